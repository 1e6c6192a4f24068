/**
 * Which granted scope satisfies a required one. A scope string is not a hierarchy: a grant of
 * gmail.modify does not list gmail.readonly (research note §5). But a broader scope can be
 * accepted by every method that accepts a narrower one; then holding the broader one is as good
 * as holding the narrower one. Each row below is such an inclusion, read from the Gmail API
 * reference's per-method "Authorization scopes" lists ("Requires one of the following OAuth
 * scopes: ..."); nothing is inferred from scope names or descriptions. Add a row only with the
 * methods that show it.
 *
 * Deliberately absent: https://mail.google.com/ does not cover gmail.settings.sharing (the
 * delegate methods, users.settings.delegates.create/delete, accept only gmail.settings.sharing)
 * nor gmail.settings.basic (users.settings.updateVacation and the other settings writes accept
 * only gmail.settings.basic).
 */

export const MAIL_GOOGLE_COM = 'https://mail.google.com/'
const GMAIL = 'https://www.googleapis.com/auth/gmail.'
const REFERENCE = 'https://developers.google.com/workspace/gmail/api/reference/rest/v1/'

export interface Inclusion {
  /** The granted scope ... */
  broader: string
  /** ... is accepted by every method that accepts this one. */
  narrower: string
  /** The methods whose scope lists show it, and where. */
  source: string
}

export const GMAIL_SCOPE_INCLUSIONS: readonly Inclusion[] = [
  {
    broader: MAIL_GOOGLE_COM,
    narrower: `${GMAIL}labels`,
    source: `users.labels.create/delete/get/list/patch/update list https://mail.google.com/ beside gmail.labels (${REFERENCE}users.labels/create)`,
  },
  {
    broader: MAIL_GOOGLE_COM,
    narrower: `${GMAIL}readonly`,
    source: `users.getProfile, users.messages.get/list, users.threads.get/list, users.history.list, users.labels.get/list and the settings getters list https://mail.google.com/ beside gmail.readonly (${REFERENCE}users/getProfile)`,
  },
  {
    broader: MAIL_GOOGLE_COM,
    narrower: `${GMAIL}send`,
    source: `users.messages.send, the one method accepting gmail.send, lists https://mail.google.com/ beside it (${REFERENCE}users.messages/send)`,
  },
  {
    broader: MAIL_GOOGLE_COM,
    narrower: `${GMAIL}modify`,
    source: `users.messages.modify/batchModify/trash/untrash, users.threads.modify/trash/untrash, users.labels.*, users.drafts.* and the settings getters (users.settings.getVacation) list https://mail.google.com/ beside gmail.modify (${REFERENCE}users.messages/modify)`,
  },
]

/** How one required scope is satisfied: by itself, or by a broader granted scope. */
export interface Cover {
  required: string
  by: string
  /** Set when `by` is another scope: the reference rows that make it cover `required`. */
  inclusion?: Inclusion
}

/** The granted scope covering `required`: the same string first, else a documented broader one. */
export function coverOf(required: string, granted: readonly string[]): Cover | undefined {
  if (granted.includes(required)) return { required, by: required }
  const inclusion = GMAIL_SCOPE_INCLUSIONS.find((i) => i.narrower === required && granted.includes(i.broader))
  return inclusion ? { required, by: inclusion.broader, inclusion } : undefined
}

/** `gmail.labels` for Google's long URIs, so plans and errors stay readable. */
export function shortScope(scope: string): string {
  return scope.startsWith('https://www.googleapis.com/auth/') ? scope.slice('https://www.googleapis.com/auth/'.length) : scope
}

/** "gmail.labels by https://mail.google.com/" or "gmail.send (granted)". */
export function describeCover(c: Cover): string {
  return c.by === c.required ? `${shortScope(c.required)} (granted)` : `${shortScope(c.required)} by ${shortScope(c.by)}`
}
