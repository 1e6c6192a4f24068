"""The public gmail-sdk's own consent, GmailClient.authorize(), made usable over SSH.

Run by scripts/gmail-sdk-consent.sh with the venv of python/requirements.txt:

    python gmail_sdk_consent.py ACCOUNT SECRETS_DIR

authorize() (gmail_sdk/auth.py 0.1.3) reads SECRETS_DIR/credentials.json, builds Google's URL
(/o/oauth2/auth, access_type=offline, prompt=consent, no PKCE), calls webbrowser.open(url),
answers exactly one request on localhost:8090, trades the code with the client secret and
writes SECRETS_DIR/gmail-ACCOUNT.json (the raw token response plus expires_at, mode 0600).

On a headless host webbrowser.open shows nobody anything, so unless BROWSER is set this
registers a "browser" that prints the URL and the tunnel the redirect needs. Nothing else of
the SDK is changed, except, when CREDFLOW_AUTH_URL / CREDFLOW_TOKEN_URL are set (a stand-in
in tests, or a Google-compatible proxy), its two endpoint constants.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import webbrowser

import gmail_sdk.auth as sdk_auth
from gmail_sdk import GmailClient

SDK_PORT = 8090  # fixed in authorize(): HTTPServer(("localhost", 8090), ...)


class PrintUrl(webbrowser.BaseBrowser):
    """webbrowser's interface, but the "browser" is the operator reading the terminal."""

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        target = f"{getpass.getuser()}@{socket.gethostname()}"
        say = lambda line="": print(line, file=sys.stderr, flush=True)  # noqa: E731
        say("Open this URL in your browser, sign in and allow every box:")
        say()
        say(f"  {url}")
        say()
        say(f"Google then sends the browser to http://localhost:{SDK_PORT}/ on the machine running the browser.")
        say(f"That reaches this host only through a tunnel opened before you start: ssh -L {SDK_PORT}:127.0.0.1:{SDK_PORT} {target}")
        say("The SDK takes the first request on the port, once; waiting for it...")
        return True


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: gmail_sdk_consent.py ACCOUNT SECRETS_DIR", file=sys.stderr)
        return 2
    account, secrets_dir = argv[1], argv[2]
    if os.environ.get("CREDFLOW_AUTH_URL"):
        sdk_auth.GOOGLE_AUTH_URL = os.environ["CREDFLOW_AUTH_URL"]
    if os.environ.get("CREDFLOW_TOKEN_URL"):
        sdk_auth.GOOGLE_TOKEN_URL = os.environ["CREDFLOW_TOKEN_URL"]
    if not os.environ.get("BROWSER"):
        webbrowser.register("credflow-print-url", None, PrintUrl("credflow-print-url"), preferred=True)
    try:
        GmailClient.authorize(account=account, secrets_dir=secrets_dir).close()
    except OSError as e:
        if getattr(e, "errno", None) == 98:  # EADDRINUSE
            print(f"port {SDK_PORT} is in use (another consent, or an ssh -L listening on this host?): free it and retry", file=sys.stderr)
            return 1
        raise
    print(f"gmail-sdk wrote {os.path.join(secrets_dir, f'gmail-{account}.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
