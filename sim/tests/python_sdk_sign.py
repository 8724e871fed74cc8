#!/usr/bin/env python3
"""Signs requests with the official PyPI `intersight` SDK against a running simulator.

Usage: python sim/tests/python_sdk_sign.py <path-to-intersight-sim-binary>

Starts the simulator (TLS, fresh keys in a temporary state directory), then for the
RSA (v2) key and the EC (v3) key, in the signing modes Cisco's own tools use, asserts
that signed requests answer 200 with the right data; also that a request signed with an
unknown key id answers 401 AuthenticationFailure. Exits non-zero on any failure.
"""

import datetime
import json
import ssl
import subprocess
import sys
import tempfile
import urllib.request

import intersight
import intersight.signing as signing
from intersight.api import iam_api
from intersight.exceptions import ApiException

SIGNED_HEADERS = [
    signing.HEADER_REQUEST_TARGET,
    signing.HEADER_CREATED,
    signing.HEADER_EXPIRES,
    signing.HEADER_HOST,
    signing.HEADER_DATE,
    signing.HEADER_DIGEST,
]

FAILURES = []


def check(condition, message):
    if condition:
        print(f"ok   {message}")
    else:
        print(f"FAIL {message}")
        FAILURES.append(message)


def control(info, path):
    context = ssl.create_default_context(cafile=info["ca_path"])
    with urllib.request.urlopen(info["endpoint"] + path, context=context, timeout=10) as response:
        return json.loads(response.read())


def api_for(info, key_id, key_path, scheme, algorithm):
    config = intersight.Configuration(
        host=info["endpoint"],
        signing_info=signing.HttpSigningConfiguration(
            key_id=key_id,
            private_key_path=key_path,
            signing_scheme=scheme,
            signing_algorithm=algorithm,
            hash_algorithm=signing.HASH_SHA256,
            signed_headers=SIGNED_HEADERS,
            signature_max_validity=datetime.timedelta(minutes=5),
        ),
    )
    config.ssl_ca_cert = info["ca_path"]
    return iam_api.IamApi(intersight.ApiClient(config))


def raw_json(response):
    return json.loads(response.data)


def exercise(info, dataset, label, key_id, key_path, scheme, algorithm):
    api = api_for(info, key_id, key_path, scheme, algorithm)
    response = api.get_iam_o_auth_token_list(count=True, _preload_content=False)
    check(response.status == 200, f"{label}: $count answers 200")
    check(raw_json(response) == {"ObjectType": "mo.DocumentCount", "Count": len(dataset)}, f"{label}: $count body")

    # A filter with a doubled quote and non-ASCII text goes through the SDK's URL encoding.
    name = "O'Brien's app"
    expected = sorted(t["Moid"] for t in dataset if t.get("ClientName") == name)
    odata = "ClientName eq '" + name.replace("'", "''") + "'"
    response = api.get_iam_o_auth_token_list(filter=odata, top=1000, inlinecount="allpages", _preload_content=False)
    body = raw_json(response)
    check(response.status == 200, f"{label}: filtered list answers 200")
    check(sorted(t["Moid"] for t in body["Results"]) == expected and body["Count"] == len(expected),
          f"{label}: filter on a quoted name returns the {len(expected)} matching tokens")

    zurich = [t["Moid"] for t in dataset if t.get("ClientName") == "Zürich-Ops"]
    response = api.get_iam_o_auth_token_list(filter="ClientName eq 'Zürich-Ops'", top=1000, _preload_content=False)
    check(sorted(t["Moid"] for t in raw_json(response)["Results"]) == sorted(zurich),
          f"{label}: filter on a non-ASCII name returns the {len(zurich)} matching tokens")

    response = api.get_iam_o_auth_token_list(top=10, orderby="Moid", _preload_content=False)
    moids = [token["Moid"] for token in raw_json(response)["Results"]]
    check(moids == sorted(t["Moid"] for t in dataset)[:10], f"{label}: ordered page")

    # The SDK's own model deserialization accepts a fully populated object. (The Python
    # SDK rejects null UserMeta/Permission/AppRegistration, which the Go SDK and the
    # service allow, so the object is one without those nulls.)
    full = next(t for t in dataset if all(t.get(k) is not None for k in ("UserMeta", "Permission", "AppRegistration", "Tags", "Owners")))
    token = api.get_iam_o_auth_token_by_moid(full["Moid"])
    check(token.moid == full["Moid"] and token.client_name == full["ClientName"], f"{label}: SDK deserializes get by Moid")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as state_dir:
        process = subprocess.Popen(
            [binary, "--tokens", "60", "--seed", "11", "--state-dir", state_dir, "--json-ready", "--stop-after", "300"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = process.stdout.readline()
            if not line:
                print("FAIL the simulator did not start")
                return 1
            info = json.loads(line)
            dataset = control(info, "/_sim/dataset")
            rsa, ec = info["rsa"], info["ec"]
            exercise(info, dataset, "RSA hs2019 PKCS1v15", rsa["key_id"], rsa["key_path"],
                     signing.SCHEME_HS2019, signing.ALGORITHM_RSASSA_PKCS1v15)
            exercise(info, dataset, "RSA rsa-sha256 PKCS1v15", rsa["key_id"], rsa["key_path"],
                     signing.SCHEME_RSA_SHA256, signing.ALGORITHM_RSASSA_PKCS1v15)
            exercise(info, dataset, "EC hs2019 deterministic-rfc6979", ec["key_id"], ec["key_path"],
                     signing.SCHEME_HS2019, signing.ALGORITHM_ECDSA_MODE_DETERMINISTIC_RFC6979)
            exercise(info, dataset, "EC hs2019 fips-186-3", ec["key_id"], ec["key_path"],
                     signing.SCHEME_HS2019, signing.ALGORITHM_ECDSA_MODE_FIPS_186_3)

            before = control(info, "/_sim/stats")["auth_failures"]
            unknown = "0" * 24 + "/" + "1" * 24 + "/" + "2" * 24
            api = api_for(info, unknown, rsa["key_path"], signing.SCHEME_HS2019, signing.ALGORITHM_RSASSA_PKCS1v15)
            try:
                api.get_iam_o_auth_token_list(count=True)
                check(False, "unknown key id is rejected")
            except ApiException as error:
                body = json.loads(error.body)
                check(error.status == 401 and body["code"] == "AuthenticationFailure" and unknown in body["message"],
                      "unknown key id answers 401 AuthenticationFailure naming the key id")
                check(error.headers.get("x-starship-traceid") == body["traceId"], "401 carries x-starship-traceid")
            check(control(info, "/_sim/stats")["auth_failures"] == before + 1, "stats count the auth failure")
        finally:
            process.terminate()
            process.wait(timeout=10)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
