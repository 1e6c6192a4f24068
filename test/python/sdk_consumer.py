"""basketball-api's side, with the real gmail-sdk: read the token file as mounted from the Secret.

    python sdk_consumer.py ACCOUNT SECRETS_DIR GOOGLE_BASE

GOOGLE_BASE is the stand-in (the SDK's GOOGLE_TOKEN_URL and gmail_sdk.client.GMAIL_BASE are
pointed at it). Calls get_profile() with the file as it is, then forces a refresh the way the
SDK does it on its own (the token looks expired: expires_at < now + 300), and calls
get_profile() again. Prints one JSON line of facts, never a token.
"""
import hashlib
import json
import sys
import time

import gmail_sdk.auth as sdk_auth
import gmail_sdk.client as sdk_client
from gmail_sdk import GmailClient

account, secrets_dir, base = sys.argv[1], sys.argv[2], sys.argv[3]
sdk_auth.GOOGLE_TOKEN_URL = base + "/token"
sdk_client.GMAIL_BASE = base + "/gmail/v1"
path = f"{secrets_dir}/gmail-{account}.json"
fp = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()[:12]  # noqa: E731

before = open(path, "rb").read()
with GmailClient(account=account, secrets_dir=secrets_dir) as c:
    first = c.get_profile()
untouched = open(path, "rb").read() == before

real_time = time.time
sdk_auth.time.time = lambda: real_time() + 2 * 3600  # the access token is now past expires_at
try:
    with GmailClient(account=account, secrets_dir=secrets_dir) as c:
        second = c.get_profile()
finally:
    sdk_auth.time.time = real_time
after = open(path, "rb").read()
old, new = json.loads(before), json.loads(after)
print(json.dumps({
    "email": first["emailAddress"],
    "emailAfterRefresh": second["emailAddress"],
    "readWithoutWrite": untouched,
    "refreshed": old["access_token"] != new["access_token"],
    "sameRefreshToken": old["refresh_token"] == new["refresh_token"],
    "keysBefore": list(old), "keysAfter": list(new),
    "before": fp(before), "after": fp(after),
}))
