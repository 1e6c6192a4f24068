"""Another user's side, with the real google-auth + google-auth-oauthlib: InstalledAppFlow writes
Credentials.to_json(), a consumer loads it with from_authorized_user_info and refreshes.

    python google_auth_flow.py consent CLIENT_JSON TOKEN_FILE SCOPE...   # prints the consent URL, writes TOKEN_FILE
    python google_auth_flow.py use TOKEN_FILE GOOGLE_BASE                 # refresh + Gmail profile; prints JSON facts

The client JSON's auth_uri/token_uri point at the stand-in (as Google's download points at
Google); from_authorized_user_info always uses Google's token endpoint, so `use` points
google.oauth2.credentials' module constant at the stand-in. No token is printed.
"""
import json
import os
import sys

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the stand-in speaks http on 127.0.0.1

if sys.argv[1] == "consent":
    from google_auth_oauthlib.flow import InstalledAppFlow

    client_json, token_file, scopes = sys.argv[2], sys.argv[3], sys.argv[4:]
    flow = InstalledAppFlow.from_client_secrets_file(client_json, scopes)
    creds = flow.run_local_server(host="127.0.0.1", port=0, open_browser=False, prompt="consent")
    with open(token_file, "w") as f:
        f.write(creds.to_json())
    print(json.dumps({"wrote": token_file}))
else:
    import google.oauth2.credentials as goc
    from google.auth.transport.requests import AuthorizedSession, Request

    token_file, base = sys.argv[2], sys.argv[3]
    goc._GOOGLE_OAUTH2_TOKEN_ENDPOINT = base + "/token"
    with open(token_file) as f:
        info = json.load(f)
    creds = goc.Credentials.from_authorized_user_info(info)
    old_token = creds.token
    creds.refresh(Request())
    profile = AuthorizedSession(creds).get(base + "/gmail/v1/users/me/profile")
    profile.raise_for_status()
    print(json.dumps({
        "email": profile.json()["emailAddress"],
        "refreshed": creds.token != old_token,
        "sameRefreshToken": creds.refresh_token == info["refresh_token"],
        "scopes": creds.scopes,
        "keys": list(json.loads(creds.to_json())),
    }))
