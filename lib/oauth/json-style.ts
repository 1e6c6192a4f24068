/**
 * Writing JSON the way the program that owns a file wrote it, so a rewrite changes values, not layout.
 * Python's `json.dumps` differs from `JSON.stringify`: `", "`/`": "` separators, `ensure_ascii` escapes, and
 * floats always carry a `.` or an exponent (`1767270000.0`). Research note §1.1 (to_json) and §1.5 (gmail-sdk).
 */

export interface JsonStyle {
  flavor: 'python' | 'js'
  /** '' for a single line, otherwise the unit of indentation ('  ' for indent=2). */
  indent: string
  itemSep: string
  keySep: string
  trailingNewline: boolean
}

/** `json.dumps(obj)`: what `Credentials.to_json()` returns (§1.1). */
export const PYTHON_DUMPS: JsonStyle = { flavor: 'python', indent: '', itemSep: ', ', keySep: ': ', trailingNewline: false }
/** `json.dump(obj, f, indent=2)`: gmail-sdk's token file (§1.5). */
export const PYTHON_INDENT_2: JsonStyle = { flavor: 'python', indent: '  ', itemSep: ',', keySep: ': ', trailingNewline: false }
/** `JSON.stringify(tokens)`: the Node google-auth-library token file (§1.4). */
export const JS_COMPACT: JsonStyle = { flavor: 'js', indent: '', itemSep: ',', keySep: ':', trailingNewline: false }

/** The layout of an existing file; the flavor comes from who writes that format. */
export function detectStyle(text: string, flavor: JsonStyle['flavor']): JsonStyle {
  const trailingNewline = /\r?\n$/.test(text)
  const indent = /^\{\r?\n([ \t]+)"/.exec(text)?.[1] ?? ''
  const keySep = /^\{\s*"(?:[^"\\]|\\.)*"(\s*:\s*)/.exec(text)?.[1] ?? (flavor === 'python' ? ': ' : ':')
  const itemSep = indent ? ',' : keySep.endsWith(' ') ? ', ' : ','
  return { flavor, indent, itemSep, keySep, trailingNewline }
}

/**
 * Serialise `value` in `style`. `floats` holds JSON-pointer paths whose numbers are Python floats: an integral
 * float must still print as `1.0`, and JSON.parse cannot tell us which numbers those were.
 */
export function formatJson(value: unknown, style: JsonStyle, floats: ReadonlySet<string> = new Set()): string {
  return write(value, style, floats, '', 0) + (style.trailingNewline ? '\n' : '')
}

function write(v: unknown, style: JsonStyle, floats: ReadonlySet<string>, path: string, level: number): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'boolean') return String(v)
  if (typeof v === 'number') {
    if (style.flavor === 'js') return JSON.stringify(v)
    return floats.has(path) || !Number.isInteger(v) ? pyFloatRepr(v) : BigInt(v).toString()
  }
  if (typeof v === 'string') return style.flavor === 'python' ? pyString(v) : JSON.stringify(v)
  const entries: Array<[string | undefined, unknown]> = Array.isArray(v)
    ? v.map((x) => [undefined, x])
    : Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined)
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}']
  if (entries.length === 0) return open + close
  const parts = entries.map(([k, x], i) => {
    const child = write(x, style, floats, `${path}/${k === undefined ? i : pointerEscape(k)}`, level + 1)
    return k === undefined ? child : write(k, style, floats, '', 0) + style.keySep + child
  })
  if (!style.indent) return open + parts.join(style.itemSep) + close
  const pad = (n: number) => style.indent.repeat(n)
  return `${open}\n${pad(level + 1)}${parts.join(`${style.itemSep}\n${pad(level + 1)}`)}\n${pad(level)}${close}`
}

/** `json.dumps` with `ensure_ascii=True`: `[\\"]` and anything outside ' '..'~' escaped, lowercase hex. */
function pyString(s: string): string {
  const short: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' }
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    const code = s.charCodeAt(i) // UTF-16 units, so astral characters come out as surrogate pairs, as in Python
    out += short[c] ?? (code < 0x20 || code > 0x7e ? `\\u${code.toString(16).padStart(4, '0')}` : c)
  }
  return out + '"'
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0'
  const [mantissa, expText] = n.toExponential().split('e') // no argument: as many digits as needed, and no more
  const exp = Number(expText)
  const sign = n < 0 ? '-' : ''
  const digits = mantissa.replace('-', '').replace('.', '')
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
  return `${sign}${digits.slice(0, exp + 1).padEnd(exp + 1, '0')}.${digits.slice(exp + 1) || '0'}`
}

/** JSON-pointer paths of the numbers written with a fraction or exponent. `text` must already be valid JSON. */
export function floatLiteralPaths(text: string): Set<string> {
  const out = new Set<string>()
  let i = 0
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++
  }
  const str = (): string => {
    const start = i++
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  const literal = /-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null/y
  const value = (path: string): void => {
    ws()
    const c = text[i]
    if (c === '{' || c === '[') {
      i++
      ws()
      if (text[i] === (c === '{' ? '}' : ']')) return void i++
      for (let n = 0; ; n++) {
        ws()
        if (c === '{') {
          const key = str()
          ws()
          i++ // ':'
          value(`${path}/${pointerEscape(key)}`)
        } else value(`${path}/${n}`)
        ws()
        if (text[i++] !== ',') return
      }
    }
    if (c === '"') return void str()
    literal.lastIndex = i
    const lit = literal.exec(text)?.[0] ?? ''
    i += Math.max(lit.length, 1)
    if (/^-?\d/.test(lit) && /[.eE]/.test(lit)) out.add(path)
  }
  value('')
  return out
}

function pointerEscape(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}
