#!/usr/bin/env python3
"""Generate ``merkle-rfc9162.json``: known-answer vectors for the tamper-evident log.

Topics: RFC 9162 §2.1 Merkle tree hashes, inclusion proofs (§2.1.3) and
consistency proofs (§2.1.4); C2SP signed notes with Ed25519 and C2SP
tlog-checkpoint bodies (requirements RK-LOG-004, RK-LOG-009).

Every *published* expected value below is transcribed from public test data,
named with repository, path and commit in ``SOURCES`` (nothing is computed to
obtain it).  *Derived* vectors apply the corruption recipe of
transparency-dev/merkle ``proof/verify_test.go`` (``corruptInclusionProof``,
``corruptConsistencyProof``; the same recipe writes that repository's
``testdata/`` files) to the published proofs; *renkei* vectors are edge cases of
the format rules, written here.

The script is independent of ``renkei_reference``: it uses the standard library
and ``cryptography`` only, and before writing it re-checks every vector with its
own minimal RFC 9162 code (a naive recursive tree hash and a transcription of
the two verification algorithms) and its own signed-note checks.  Output is
deterministic.

Usage::

    python specs/vectors/generate_merkle.py            # (re)write the file
    python specs/vectors/generate_merkle.py --check    # exit 1 if the file on disk differs
"""

# ruff: noqa: E501, PLR0917 -- transcribed hashes, notes and header lines are kept one string per line.
from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

import vector_files
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HERE = Path(__file__).resolve().parent
FILE_NAME = "merkle-rfc9162.json"
SCHEMA_REF = "../schemas/merkle-vectors.schema.json"
GENERATOR = "specs/vectors/generate_merkle.py"

Json = dict[str, Any]

# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------

SOURCES: dict[str, Json] = {
    "tdm-verify-test": {
        "repository": "transparency-dev/merkle",
        "path": "proof/verify_test.go",
        "commit": "02194e9afb6c1d95b5381350007963aa70fff472",
        "what": "the 8-leaf test tree (leaves, roots of sizes 1..8), inclusion and consistency proofs, the empty-tree hash and the corruption recipe",
    },
    "tdm-testdata": {
        "repository": "transparency-dev/merkle",
        "path": "testdata/inclusion/1/leafIdx---1.json",
        "commit": "65362ac5a212fd079e82284b91b5f87aac41b56a",
        "what": "one of the JSON files the corruption recipe writes; shows leafIdx − 1 of index 0 wrapping to 2^64 − 1 as here",
    },
    "go-tlog-argon2020": {
        "repository": "golang/mod",
        "path": "sumdb/tlog/ct_test.go, sumdb/tlog/testdata/argon2020/{sth,entries,proof,consistency}.json",
        "commit": "b5136e5ba156da612a1efc6e49b55988a134a5e0",
        "what": "real Certificate Transparency answers of Google's Argon 2020 log: tree head, entry 10000, its audit path and a consistency proof from size 3654490",
    },
    "go-note-test": {
        "repository": "golang/mod",
        "path": "sumdb/note/note_test.go",
        "commit": "02c991387e35f9e4c0a9b7ce137717055f8d716d",
        "what": "signed-note test keys (PeterNeumann, EnochRoot), the signed example text and the malformed notes",
    },
    "go-tlog-note-test": {
        "repository": "golang/mod",
        "path": "sumdb/tlog/note_test.go",
        "commit": "774e77886cf18ba9e220baec8497d65b0c50373f",
        "what": "the go.sum tree-head text (the checkpoint body format's origin) and its malformed variants",
    },
    "c2sp-tlog-checkpoint": {
        "repository": "C2SP/C2SP",
        "path": "tlog-checkpoint.md",
        "commit": "2793893976c835db049c194d8f2c4f946dcb70ba",
        "what": "the example checkpoint of the specification (its public key is not published)",
    },
    "c2sp-signed-note": {
        "repository": "C2SP/C2SP",
        "path": "signed-note.md",
        "commit": "055287621bf3cd13ff4394418a3e8efc2d5e8ed7",
        "what": "the rules the renkei edge cases of notes apply",
    },
    "renkei": {
        "repository": "renkei",
        "path": GENERATOR,
        "commit": "(this repository)",
        "what": "edge cases written here from RFC 9162 and the C2SP rules; expected values computed by this script",
    },
}

# ---------------------------------------------------------------------------
# Transcribed values
# ---------------------------------------------------------------------------

# transparency-dev/merkle proof/verify_test.go: `leaves`, `roots`, `inclusionProofs`
# (leaf numbers there are 1-based: {leaf, size} means index leaf − 1), `consistencyProofs`.
LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY_TREE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SOME_HASH = "abacaba000000000000000000000000000000000000000000060061e00123456"
INCLUSION_PROOFS: list[tuple[int, int, list[str]]] = [  # (1-based leaf, size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY_PROOFS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# golang/mod sumdb/tlog/testdata/argon2020 (base64 as published).
ARGON_SIZE = 961984013
ARGON_ROOT = "dwlueapdd7LaOEnX2W2Wp9v2XE+KzejHRQGHwEx0oaM="
ARGON_OLD_SIZE = 3654490  # ct_test.go: get-sth-consistency?first=3654490
ARGON_OLD_ROOT = "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="  # ct_test.go
ARGON_LEAF_INDEX = 10000
ARGON_LEAF_INPUT = "AAAAAAFelPhqUwAAAAViMIIFXjCCBEagAwIBAgIRAOodHzZdqWIFzYyl/SovhCMwDQYJKoZIhvcNAQELBQAwgZAxCzAJBgNVBAYTAkdCMRswGQYDVQQIExJHcmVhdGVyIE1hbmNoZXN0ZXIxEDAOBgNVBAcTB1NhbGZvcmQxGjAYBgNVBAoTEUNPTU9ETyBDQSBMaW1pdGVkMTYwNAYDVQQDEy1DT01PRE8gUlNBIERvbWFpbiBWYWxpZGF0aW9uIFNlY3VyZSBTZXJ2ZXIgQ0EwHhcNMTcwMjE1MDAwMDAwWhcNMjAwNDE2MjM1OTU5WjBfMSEwHwYDVQQLExhEb21haW4gQ29udHJvbCBWYWxpZGF0ZWQxHTAbBgNVBAsTFFBvc2l0aXZlU1NMIFdpbGRjYXJkMRswGQYDVQQDDBIqLmxhbmRsb3Jkcy5jb20uYXUwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCtPBKKHj4zdrGlCjgTHzb5gx9JCs97DwvBz60f14gDufF2haWbOxyJ0a3opAMsZnOr8HkARVCwxdqG/PTfACcb0QM7FOlzvxGqxataTYiChwvkkif8F9GlJw69HuHgzhusPf1Ytfk3ps1PRC14MkyrS4kwPrk/Le4XdkqRpRw62wG4V6IkbzsNMEOl1H8EgUbfyapdOcVxHjIzvBVy56fBRKG05Fr5wNq3Acak5kYZdNsLhhmlrqAfAjiombW3hb3V5blJdRC0BDdYHv2+zKey6LqJ1FDoXo6IzbzPpC+aifZy47YX+/N1U64Qn5xlDg7mOP8JXfkNJHbU1TJZHif5AgMBAAGjggHhMIIB3TAfBgNVHSMEGDAWgBSQr2o6lFoL2JDqElZz30O0Oija5zAdBgNVHQ4EFgQUNQSLjkoz01I+iuuoC5lgEp0anhcwDgYDVR0PAQH/BAQDAgWgMAwGA1UdEwEB/wQCMAAwHQYDVR0lBBYwFAYIKwYBBQUHAwEGCCsGAQUFBwMCME8GA1UdIARIMEYwOgYLKwYBBAGyMQECAgcwKzApBggrBgEFBQcCARYdaHR0cHM6Ly9zZWN1cmUuY29tb2RvLmNvbS9DUFMwCAYGZ4EMAQIBMFQGA1UdHwRNMEswSaBHoEWGQ2h0dHA6Ly9jcmwuY29tb2RvY2EuY29tL0NPTU9ET1JTQURvbWFpblZhbGlkYXRpb25TZWN1cmVTZXJ2ZXJDQS5jcmwwgYUGCCsGAQUFBwEBBHkwdzBPBggrBgEFBQcwAoZDaHR0cDovL2NydC5jb21vZG9jYS5jb20vQ09NT0RPUlNBRG9tYWluVmFsaWRhdGlvblNlY3VyZVNlcnZlckNBLmNydDAkBggrBgEFBQcwAYYYaHR0cDovL29jc3AuY29tb2RvY2EuY29tMC8GA1UdEQQoMCaCEioubGFuZGxvcmRzLmNvbS5hdYIQbGFuZGxvcmRzLmNvbS5hdTANBgkqhkiG9w0BAQsFAAOCAQEACyHqxUzrexToY7tOv4+kyGPP2D27P1tQpyzeAl1bPObiMhNK2b9vvBLDWAaqm8c0YL1h+DBdLoWzf3xFsIkTCVCjWJTNSNlcYtgRk6or1s7jWsfXzWqsnPjPPmTIOCw7EfH7Yme3oxPs3UUsmShAgPwNohAtL9GqlqMiKM6v1WU3NHt01jEoNP23LRa6KeNK6AH6WHJykzL223IlhgXjHTeuQj6lR+TNrQXJuhwTXYe+20rrpPQxc1Pn7AqnvfWgmicRQ7gdIcr4V6+ecTvLfNOaJ0ZYe5G5giuAAdTm7F57pk04f4gyZNYKrj88mvbkoriN8b6jcWExtrYO6bm2TwAA"
ARGON_AUDIT_PATH = [
    "T46AmJsuOM/gFiGlUp+IJJebp+1Z5qratFNW7U0JyOQ=",
    "9Jj1Feodn42uRYEfffkV4HF/EIPFQ5Zo9IwkxbQ2uhk=",
    "D53/1oCNebF4J59HHgioovKZxrmrKcVuCVhy3Izg8Ck=",
    "wSFDgGSrsXRPA+1c8WHoAFCsWeUv8NDyP/Q/SgsyVyY=",
    "516/RcwsgdwdzHn18v1dJHqBkgFUbNhmCIWOGjsMJaE=",
    "naTFY2ajLFgrgs5XUl+zJYZnnlJksLGsA1VYwpLfqbY=",
    "mKBRJo6qao+0Kdh/rhGkZUbHUAxMhrtrclrTpIbNjIg=",
    "Co4ueOFE7lpifLio94irxxsv1wFMMaK3tPu2ZQkHlro=",
    "yRgy800K6JMYCC05sWfqF2kvCg2riT/pVM+nEa6V5+0=",
    "n2O38XJZC8/Wpbwi9HhgVizlUyeUHVZvYyQB1607MRc=",
    "go3tAjuNfNSCj87y2Rg1xOroDknGN1eaf3cgvzObf7Q=",
    "8D0Mj3/J7ySSnFb0afIHYXv6rlOhECnsebY6XKi1IR8=",
    "6rcez46ZU8M5vPiWVMAUfJfAOV0pPP/mch/lYzZhj/M=",
    "2rtIeXrPvSdUyHc5maIgSAVB2BzaKaupWxSAiVayDE4=",
    "nniW/IMFQPN5xw8UsHFn7CRStYbm1gLu7NNa6kkRqJQ=",
    "mRPPi7sQS22MduIEyvcNzCNFqIt6kLwYPkNKrVtIcu8=",
    "JvTivzESNS9wHI8aph5a7uieVmtS/p9PciMZ5D6GyOo=",
    "UTyQd+Ym0wY4zG+qK806bBORwi1CSVvFQ/KknnqoZj8=",
    "hXODrqN+ff+U6zPqRQ+ZQKs6im1fPcxIerDSfNwflhE=",
    "II6GE+WY/DrpZzfHztLwkR46o37zVkNLCyPYlf68zA0=",
    "d609kWWcNBllbA8Jb/ad4XAVVGnScLRmtP8FYyr+Dck=",
    "rikBsP0G0gioXRpBFED2CzQdSLrGPvRd0bEcbEZw1rI=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
]
ARGON_CONSISTENCY = [
    "80Sfbj6UQEdVSZCSIgh9NMPj3vCBzcc1A48B2crJSWg=",
    "FZcrgAHUk6nNPviJZq8kEK6jCG1d18pJOFE45ZDc1TQ=",
    "Q67reWXmPBo1UfmwBap4Xi9PMPfFdUSSw3WGlRZdG7k=",
    "eJ7CyhR4PxzBxDIsWgrVYW1eFUb9ndgf46tFmiqVrxA=",
    "QrDwp062Grm5WY8KdrhFsBuuNjGzRox2Jb8PmVL5OYw=",
    "XM4YMjMEdLH/XJam/ZWyaP14k3cmsOtnPsOWQ54lW1s=",
    "SGiBh+jOTGccXU48ZzgQ88lRcBmtB4wz4oSDndv2QTg=",
    "WAS6txqNLYKGL1GdBdpqmV42TTfn6cJsuDsqLXuTCNI=",
    "QFmRS0rirUA7ZN3lxFjDncV+E1OCrn3NUB4RCp+5fzc=",
    "Hdbp7It2XBNZmNDBpCN/KPd7vfVqxgzwOosqVIaEA9E=",
    "mxvHL0ZiblBdD7j7pIa1jlfB0gSqfJ6oX0UGo7L0VsU=",
    "q5hjyvoW6TL/PThgcitpDcSTrnKX2p1+aqscqH2euRA=",
    "jTOWDqt3IHj2NVFeezyBz2ofpru+ztEywqKUAfFclKI=",
    "GIRn0w3HqJdvU9j1WVD//eR6lk2AaTVjyzjsJNP8U88=",
    "x52GJvxG81fnQBrgOTbll1A5tz95/LXK0Ag1NhB0r1I=",
    "6/0OqrcTgc3o5dD5PymmoC96lB9yLPFuTHVvLy8fSGk=",
    "Gf+iKLfcXO5l4JEFmsZvSdG5q1uEeWPfYLrds6pmjz0=",
    "DGuaco+McyM3AfRSF6qX7RwSetwe2ieYJmxw5e9rVx0=",
    "2tQJ9V32hnYp+fdpP6TcjmgJmLeNVOMKM0Ml1kk4cNU=",
    "3PapK+IkyJr8I9yAErAmzuZezzLMzsg+PfeRCgNW8NQ=",
    "s6xiYeejb+wtqHA+URJZ2I/SCPyIW8coP6aB00FJbMY=",
    "z9lSpmdTcr5M5ZzKlc4EPh3SrSypKFdk6JUF/UccaZU=",
    "GXIElfmnRuWfbA4z7ubV/UwlpSRUbUeec7oL5HDDnh0=",
    "pR0SH/NYP6s9+8azWwaeUXA4Ze/3WCIgMfh5YW6wvcE=",
    "f3GuAKYVrF8RBg3s15jvA/YvV9oAliWtzP/imwPhQVA=",
    "WHn8zDxlVgkV+lSlmzaOdfSBrTHoRr5nT3d76q0KKWE=",
    "f2uV2ZxVgULzLPKuZcowRY3ZY7fRlX59iDBjV1R8kNQ=",
    "NzQVjJsvQwbi7WStMr9oFkh9VbHfK7LB6o7WwAqwNTs=",
    "C0LttBeYHZHgL+032JIcJC3CTBIyza/hsbmJUgJfmDI=",
    "nixU5CWTFVDlF4BGdcU6kA7WSYurEpe9jRWc+F/7sOc=",
]

# golang/mod sumdb/note/note_test.go
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
NOTE_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

# golang/mod sumdb/tlog/note_test.go
GOSUM_TREE = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
GOSUM_HASHED = b"hello world"  # TestFormatTree: h := RecordHash([]byte("hello world"))

# C2SP/C2SP tlog-checkpoint.md
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)

# ---------------------------------------------------------------------------
# Independent minimal RFC 9162 (used only to re-check the vectors)
# ---------------------------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, exactly as written."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def rfc_verify_inclusion(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2 steps 1–5."""
    if index >= size or index < 0 or any(len(p) != 32 for p in path) or len(leaf) != 32:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            r = _h(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def rfc_verify_consistency(m: int, n: int, first: bytes, second: bytes, path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2 steps 1–7, with renkei's profile for 1 ≤ m = n (RK-LOG-009)."""
    if not 1 <= m <= n or len(first) != 32 or len(second) != 32:
        return False
    if any(len(p) != 32 for p in path):
        return False
    if m == n:
        return not path and first == second
    if not path:
        return False
    path = list(path)
    if m & (m - 1) == 0:
        path = [first, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            sr = _h(b"\x01" + sr + c)
        fn //= 2
        sn //= 2
    return fr == first and sr == second and sn == 0


# ---------------------------------------------------------------------------
# Independent minimal signed notes and checkpoints (used only to re-check)
# ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_vkey(vkey: str) -> tuple[str, Ed25519PublicKey, bytes]:
    name, hex_id, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    assert raw[0] == 1, vkey
    assert len(raw) == 33, vkey
    key_id = _h(name.encode() + b"\n" + raw)[:4]
    assert key_id.hex() == hex_id, vkey
    return name, Ed25519PublicKey.from_public_bytes(raw[1:]), key_id


def signer_from_skey(skey: str) -> tuple[str, Ed25519PrivateKey]:
    _, _, name, _, encoded = skey.split("+", 4)
    raw = base64.b64decode(encoded, validate=True)
    return name, Ed25519PrivateKey.from_private_bytes(raw[1:])


def sign_text(text: str, name: str, key: Ed25519PrivateKey) -> str:
    public = key.public_key().public_bytes_raw()
    key_id = _h(name.encode() + b"\n\x01" + public)[:4]
    return f"{text}\n— {name} {_b64(key_id + key.sign(text.encode()))}\n"


def check_note(note: bytes, vkey: str) -> tuple[str, str | None]:
    """('valid', text) or ('invalid', problem slug), following c2sp.org/signed-note."""
    name, key, key_id = parse_vkey(vkey)
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid", "malformed-checkpoint"
    if any(ch < " " and ch != "\n" for ch in text):
        return "invalid", "malformed-checkpoint"
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n") or split + 2 >= len(text):
        return "invalid", "malformed-checkpoint"
    body, sigs = text[: split + 1], text[split + 2 : -1].split("\n")
    if len(sigs) > 100:
        return "invalid", "malformed-checkpoint"
    ok = False
    for line in sigs:
        if not line.startswith("— "):
            return "invalid", "malformed-checkpoint"
        signer, _, encoded = line[2:].partition(" ")
        if not signer or "+" in signer or any(c.isspace() for c in signer):
            return "invalid", "malformed-checkpoint"
        try:
            blob = base64.b64decode(encoded, validate=True)
        except ValueError:
            return "invalid", "malformed-checkpoint"
        if len(blob) < 5:
            return "invalid", "malformed-checkpoint"
        if signer != name or blob[:4] != key_id:
            continue
        try:
            key.verify(blob[4:], body.encode())
        except InvalidSignature:
            return "invalid", "invalid-checkpoint-signature"
        ok = True
    return ("valid", body) if ok else ("invalid", "invalid-checkpoint-signature")


def check_checkpoint_body(body: str) -> Json | None:
    """The parsed fields, or None when malformed (c2sp.org/tlog-checkpoint)."""
    if not body.endswith("\n") or any(ch < " " and ch != "\n" for ch in body):
        return None
    lines = body[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        return None
    size = lines[1]
    if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
        return None
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        return None
    if len(root) != 32 or _b64(root) != lines[2] or int(size) >= 2**64:
        return None
    return {
        "origin": lines[0],
        "treeSize": int(size),
        "rootHash": root.hex(),
        "extensions": lines[3:],
    }


# ---------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------

U64 = 2**64


def _hexes(items: list[bytes]) -> list[str]:
    return [item.hex() for item in items]


def tree_hash_tests() -> list[Json]:
    tests: list[Json] = [
        {
            "comment": "the empty tree: MTH({}) = SHA-256() (sha256EmptyTreeHash)",
            "flags": ["published", "empty-tree"],
            "source": "tdm-verify-test",
            "leaves": [],
            "rootHash": EMPTY_TREE_HASH,
            "result": "valid",
        }
    ]
    for size in range(1, 9):
        tests.append(
            {
                "comment": f"the 8-leaf test tree, first {size} leaves",
                "flags": ["published", "power-of-two" if size & (size - 1) == 0 else "ragged"],
                "source": "tdm-verify-test",
                "leaves": LEAVES[:size],
                "rootHash": ROOTS[size - 1],
                "result": "valid",
            }
        )
    tests.append(
        {
            "comment": "leaf hash of 'hello world' as the go.sum tree head of TestFormatTree (RecordHash)",
            "flags": ["published"],
            "source": "go-tlog-note-test",
            "leaves": [GOSUM_HASHED.hex()],
            "rootHash": base64.b64decode(GOSUM_TREE.split("\n")[2]).hex(),
            "result": "valid",
        }
    )
    for test in tests:
        leaves = [bytes.fromhex(x) for x in test["leaves"]]
        assert naive_mth(leaves).hex() == test["rootHash"], test["comment"]
    return tests


def _inclusion(comment: str, flags: list[str], source: str, index: int, size: int,
               leaf: bytes, proof: list[bytes], root: bytes, result: str, leaf_input: bytes | None = None) -> Json:  # fmt: skip
    test: Json = {"comment": comment, "flags": flags, "source": source}
    if leaf_input is not None:
        test["leafInput"] = leaf_input.hex()
    test |= {
        "leafIndex": index,
        "treeSize": size,
        "leafHash": leaf.hex(),
        "proof": _hexes(proof),
        "rootHash": root.hex(),
        "result": result,
    }
    return test


def _corrupt_inclusion(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes,
                       every_node: bool = True) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:  # fmt: skip
    """transparency-dev/merkle corruptInclusionProof (uint64 arithmetic)."""
    some, empty = bytes.fromhex(SOME_HASH), bytes.fromhex(EMPTY_TREE_HASH)
    probes = [
        ("leafIndex - 1", (index - 1) % U64, size, leaf, proof, root),
        ("leafIndex + 1", index + 1, size, leaf, proof, root),
        ("leafIndex ^ 2", index ^ 2, size, leaf, proof, root),
        ("treeSize * 2", index, size * 2, leaf, proof, root),
        ("treeSize / 2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, root),
        ("empty root", index, size, leaf, proof, empty),
        ("random root", index, size, leaf, proof, some),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    positions = range(len(proof)) if every_node else sorted({0, len(proof) // 2, len(proof) - 1})
    for i in positions if proof else ():
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 3", index, size, leaf, wrong, root))
    if proof:
        probes.append(("removed component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append(("inserted component", index, size, leaf, [proof[0], some, *proof[1:]], root))
    return probes


def inclusion_tests() -> list[Json]:
    tests: list[Json] = []
    leaf_hashes = [_h(b"\x00" + bytes.fromhex(x)) for x in LEAVES]
    some, empty = bytes.fromhex(SOME_HASH), bytes.fromhex(EMPTY_TREE_HASH)
    cases: list[tuple[str, str, int, int, bytes, list[bytes], bytes, bytes | None, bool]] = []
    for leaf_number, size, proof_hex in INCLUSION_PROOFS:
        index = leaf_number - 1
        cases.append(
            (
                f"8-leaf test tree: leaf {index} in the tree of size {size}",
                "tdm-verify-test",
                index,
                size,
                leaf_hashes[index],
                [bytes.fromhex(p) for p in proof_hex],
                bytes.fromhex(ROOTS[size - 1]),
                None,
                True,
            )
        )
    argon_input = base64.b64decode(ARGON_LEAF_INPUT)
    cases.append(
        (
            f"Argon 2020 CT log: entry {ARGON_LEAF_INDEX} in the tree of size {ARGON_SIZE}",
            "go-tlog-argon2020",
            ARGON_LEAF_INDEX,
            ARGON_SIZE,
            _h(b"\x00" + argon_input),
            [base64.b64decode(p) for p in ARGON_AUDIT_PATH],
            base64.b64decode(ARGON_ROOT),
            argon_input,
            False,
        )
    )
    for comment, source, index, size, leaf, proof, root, leaf_input, every in cases:
        flags = ["published"] + (["empty-proof"] if not proof else [])
        tests.append(
            _inclusion(comment, flags, source, index, size, leaf, proof, root, "valid", leaf_input)
        )
        for desc, i, s, lf, p, r in _corrupt_inclusion(index, size, proof, root, leaf, every):
            tests.append(
                _inclusion(
                    f"{comment}, corrupted: {desc}",
                    ["corrupted-proof"],
                    "tdm-verify-test",
                    i,
                    s,
                    lf,
                    p,
                    r,
                    "invalid",
                )
            )
    # TestVerifyInclusion: out-of-range (index, size) with an empty proof never verify.
    for index, size in ((0, 0), (0, 1), (1, 0), (2, 1)):
        for leaf, root in ((some, empty), (empty, some)):
            tests.append(
                _inclusion(
                    f"index {index}, size {size}, empty proof, arbitrary leaf and root",
                    ["out-of-range" if index >= size else "corrupted-proof"],
                    "tdm-verify-test",
                    index,
                    size,
                    leaf,
                    [],
                    root,
                    "invalid",
                )
            )
    tests.append(
        _inclusion(
            "the leaf hash itself as the root of a one-leaf tree: valid (RFC 9162 §2.1.3.2 with an empty path)",
            ["renkei-edge", "empty-proof"],
            "renkei",
            0,
            1,
            some,
            [],
            some,
            "valid",
        )
    )
    for test in tests:
        ok = rfc_verify_inclusion(
            test["leafIndex"],
            test["treeSize"],
            bytes.fromhex(test["leafHash"]),
            [bytes.fromhex(p) for p in test["proof"]],
            bytes.fromhex(test["rootHash"]),
        )
        assert ok == (test["result"] == "valid"), test["comment"]
        if "leafInput" in test:
            assert _h(b"\x00" + bytes.fromhex(test["leafInput"])).hex() == test["leafHash"]
    return tests


def _consistency(comment: str, flags: list[str], source: str, m: int, n: int,
                 first: bytes, second: bytes, proof: list[bytes], result: str) -> Json:  # fmt: skip
    return {
        "comment": comment,
        "flags": flags,
        "source": source,
        "size1": m,
        "size2": n,
        "root1": first.hex(),
        "root2": second.hex(),
        "proof": _hexes(proof),
        "result": result,
    }


def _corrupt_consistency(m: int, n: int, first: bytes, second: bytes, proof: list[bytes],
                         every_node: bool = True) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:  # fmt: skip
    """transparency-dev/merkle corruptConsistencyProof (uint64 arithmetic)."""
    probes = [
        ("size1 - 1", (m - 1) % U64, n, first, second, proof),
        ("size1 + 1", m + 1, n, first, second, proof),
        ("size1 ^ 2", m ^ 2, n, first, second, proof),
        ("size2 * 2", m, n * 2, first, second, proof),
        ("size2 / 2", m, n // 2, first, second, proof),
        ("wrong root1", m, n, b"WrongRoot", second, proof),
        ("wrong root2", m, n, first, b"WrongRoot", proof),
        ("swapped roots", m, n, second, first, proof),
        ("empty proof", m, n, first, second, []),
        ("trailing garbage", m, n, first, second, [*proof, b""]),
        ("trailing root1", m, n, first, second, [*proof, first]),
        ("trailing root2", m, n, first, second, [*proof, second]),
        ("preceding garbage", m, n, first, second, [b"", *proof]),
        ("preceding root1", m, n, first, second, [first, *proof]),
        ("preceding root2", m, n, first, second, [second, *proof]),
        ("preceding proof[0]", m, n, first, second, [proof[0], *proof]),
        ("truncated proof", m, n, first, second, proof[:-1]),
    ]
    positions = range(len(proof)) if every_node else sorted({0, len(proof) // 2, len(proof) - 1})
    for i in positions:
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 4", m, n, first, second, wrong))
    return probes


def consistency_tests() -> list[Json]:
    tests: list[Json] = []
    some, empty = bytes.fromhex(SOME_HASH), bytes.fromhex(EMPTY_TREE_HASH)
    cases: list[tuple[str, str, int, int, bytes, bytes, list[bytes], bool]] = [
        (
            f"8-leaf test tree: size {m} to size {n}",
            "tdm-verify-test",
            m,
            n,
            bytes.fromhex(ROOTS[m - 1]),
            bytes.fromhex(ROOTS[n - 1]),
            [bytes.fromhex(p) for p in proof],
            True,
        )
        for m, n, proof in CONSISTENCY_PROOFS
    ]
    cases.append(
        (
            f"Argon 2020 CT log: size {ARGON_OLD_SIZE} to size {ARGON_SIZE}",
            "go-tlog-argon2020",
            ARGON_OLD_SIZE,
            ARGON_SIZE,
            base64.b64decode(ARGON_OLD_ROOT),
            base64.b64decode(ARGON_ROOT),
            [base64.b64decode(p) for p in ARGON_CONSISTENCY],
            False,
        )
    )
    for comment, source, m, n, first, second, proof, every in cases:
        flags = ["published"] + (["equal-sizes"] if m == n else [])
        tests.append(_consistency(comment, flags, source, m, n, first, second, proof, "valid"))
        if not proof:
            continue
        for desc, m2, n2, r1, r2, p in _corrupt_consistency(m, n, first, second, proof, every):
            tests.append(
                _consistency(
                    f"{comment}, corrupted: {desc}",
                    ["corrupted-proof"],
                    "tdm-verify-test",
                    m2,
                    n2,
                    r1,
                    r2,
                    p,
                    "invalid",
                )
            )
    # TestVerifyConsistency special cases, with 32-byte roots.
    special = [
        ("sizes 0 to 0: renkei refuses size 0 (RK-LOG-009)", ["bad-sizes"], 0, 0, empty, empty, []),
        (
            "sizes 0 to 1: consistency from the empty tree is not a proof in renkei's profile",
            ["bad-sizes"],
            0,
            1,
            some,
            empty,
            [],
        ),
        ("sizes 1 to 1, equal roots, empty proof", ["equal-sizes"], 1, 1, some, some, []),
        ("sizes 1 to 1, different roots", ["equal-sizes"], 1, 1, empty, some, []),
        (
            "sizes 1 to 1, equal roots, non-empty proof",
            ["equal-sizes"],
            1,
            1,
            empty,
            empty,
            [empty],
        ),
        ("time travel: size 1 to size 0", ["bad-sizes"], 1, 0, some, empty, []),
        ("time travel: size 2 to size 1", ["bad-sizes"], 2, 1, some, empty, []),
        ("sizes 1 to 2 with an empty proof", ["corrupted-proof"], 1, 2, some, empty, []),
    ]
    for comment, flags, m, n, first, second, proof in special:
        valid = comment.startswith("sizes 1 to 1, equal roots, empty")
        tests.append(
            _consistency(
                comment,
                flags,
                "tdm-verify-test",
                m,
                n,
                first,
                second,
                proof,
                "valid" if valid else "invalid",
            )
        )
    for test in tests:
        ok = rfc_verify_consistency(
            test["size1"],
            test["size2"],
            bytes.fromhex(test["root1"]),
            bytes.fromhex(test["root2"]),
            [bytes.fromhex(p) for p in test["proof"]],
        )
        assert ok == (test["result"] == "valid"), test["comment"]
    return tests


def note_tests() -> list[Json]:
    text, peter, enoch = NOTE_TEXT, PETER_SIG, ENOCH_SIG
    peter_bad = (peter.encode()[:60] + b"ABCD" + peter.encode()[60:]).decode()
    enoch_bad = (enoch.encode()[:60] + b"ABCD" + enoch.encode()[60:]).decode()
    signer_name, signer = signer_from_skey(PETER_SKEY)
    renkei_cp = f"renkei.example/hub-log\n8\n{_b64(bytes.fromhex(ROOTS[7]))}\n"
    renkei_name = "renkei.example/hub-log"
    typed_key = b"\x01" + signer.public_key().public_bytes_raw()
    renkei_key_id = _h(renkei_name.encode() + b"\n" + typed_key)[:4].hex()
    renkei_vkey = f"{renkei_name}+{renkei_key_id}+{_b64(typed_key)}"
    rows: list[tuple[str, list[str], str, str, bytes, str, str | None]] = [
        # (comment, flags, source, vkey, note, result, signerKey)
        (
            "the signed example note (TestSign, TestOpen)",
            ["published", "signing"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter).encode(),
            "valid",
            PETER_SKEY,
        ),
        (
            "two signatures, one by the known key: the other is ignored",
            ["published", "unknown-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter + enoch).encode(),
            "valid",
            None,
        ),
        (
            "two signatures, verified with the second key",
            ["published", "unknown-signature"],
            "go-note-test",
            ENOCH_VKEY,
            (text + "\n" + peter + enoch).encode(),
            "valid",
            None,
        ),
        (
            "repeated signature lines of the known key, and an altered unknown one",
            ["published", "unknown-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter + peter + enoch + enoch + enoch_bad).encode(),
            "valid",
            None,
        ),
        (
            "only a signature by another key",
            ["published", "unknown-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + enoch).encode(),
            "invalid",
            None,
        ),
        (
            "signature by the known key altered (four base64 characters inserted)",
            ["published", "bad-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter_bad).encode(),
            "invalid",
            None,
        ),
        (
            "101 signature lines (more than Go's and renkei's limit of 100; the spec requires at least 16)",
            ["published", "signature-limit"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter * 101).encode(),
            "acceptable",
            None,
        ),
        (
            "the text without a signature block",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            text.encode(),
            "invalid",
            None,
        ),
        (
            "the text and a blank line, no signature",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n").encode(),
            "invalid",
            None,
        ),
        (
            "signature line without its final newline",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter[:-1]).encode(),
            "invalid",
            None,
        ),
        (
            "a control character (U+0001) in the text",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            ("\x01" + text + "\n" + peter).encode(),
            "invalid",
            None,
        ),
        (
            "a byte 0xff (not UTF-8) in the text",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            b"\xff" + (text + "\n" + peter).encode(),
            "invalid",
            None,
        ),
        (
            "a key name with a space, no final newline",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            (
                text
                + "\n"
                + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ).encode(),
            "invalid",
            None,
        ),
        (
            "a line that is not a signature after the signatures",
            ["published", "malformed-note"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter + "Unexpected line.\n").encode(),
            "invalid",
            None,
        ),
        (
            "the known name with another key ID: an unknown key, so no verified signature",
            ["published", "unknown-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter.replace("x08g", "xxxx")).encode(),
            "invalid",
            None,
        ),
        (
            "another name with the known key ID: an unknown key",
            ["published", "unknown-signature"],
            "go-note-test",
            PETER_VKEY,
            (text + "\n" + peter.replace("PeterNeumann", "CarmenSandiego")).encode(),
            "invalid",
            None,
        ),
        (
            "the C2SP example checkpoint opened with a key that did not sign it",
            ["published", "unknown-signature"],
            "c2sp-tlog-checkpoint",
            PETER_VKEY,
            C2SP_CHECKPOINT.encode(),
            "invalid",
            None,
        ),
        (
            "a renkei checkpoint (8-leaf test tree) signed with the published PeterNeumann test key under the log's name",
            ["renkei-edge", "signing"],
            "renkei",
            renkei_vkey,
            sign_text(renkei_cp, renkei_name, signer).encode(),
            "valid",
            "PRIVATE+KEY+" + renkei_name + "+" + renkei_key_id + "+" + PETER_SKEY.split("+", 4)[4],
        ),
        (
            "signature with a CR LF line ending",
            ["renkei-edge", "malformed-note"],
            "c2sp-signed-note",
            PETER_VKEY,
            (text + "\n" + peter[:-1] + "\r\n").encode(),
            "invalid",
            None,
        ),
        (
            "em dash replaced by a hyphen-minus",
            ["renkei-edge", "malformed-note"],
            "c2sp-signed-note",
            PETER_VKEY,
            (text + "\n" + "-" + peter[1:]).encode(),
            "invalid",
            None,
        ),
        (
            "signature base64 without padding",
            ["renkei-edge", "malformed-note"],
            "c2sp-signed-note",
            PETER_VKEY,
            (text + "\n" + peter[:-2] + "\n").encode(),
            "invalid",
            None,
        ),
    ]
    assert signer_name == "PeterNeumann"
    tests: list[Json] = []
    for comment, flags, source, vkey, note, result, skey in rows:
        test: Json = {"comment": comment, "flags": flags, "source": source, "verifierKey": vkey}
        if skey is not None:
            test["signerKey"] = skey
        try:
            test["note"] = note.decode("utf-8")
        except UnicodeDecodeError:
            test["noteHex"] = note.hex()
        outcome, value = check_note(note, vkey)
        expected = "invalid" if result == "acceptable" else result
        assert outcome == expected, comment
        test["text"] = value if outcome == "valid" else None
        test["error"] = value if outcome == "invalid" else None
        if skey is not None:
            name, key = signer_from_skey(skey)
            assert sign_text(value or "", name, key) == test["note"], comment
        test["result"] = result
        tests.append(test)
    return tests


def checkpoint_tests() -> list[Json]:
    root8 = _b64(bytes.fromhex(ROOTS[7]))
    empty = _b64(bytes.fromhex(EMPTY_TREE_HASH))
    c2sp_body = C2SP_CHECKPOINT.split("\n\n", maxsplit=1)[0] + "\n"
    rows: list[tuple[str, list[str], str, str, str]] = [
        (
            "the C2SP example checkpoint's body",
            ["published"],
            "c2sp-tlog-checkpoint",
            c2sp_body,
            "valid",
        ),
        (
            "the go.sum tree head of TestParseTree",
            ["published"],
            "go-tlog-note-test",
            GOSUM_TREE,
            "valid",
        ),
        (
            "go.sum tree head with an extension line 'JOE' (Go ignores the junk; C2SP makes it an extension line)",
            ["published", "extension-line"],
            "go-tlog-note-test",
            GOSUM_TREE + "JOE\n",
            "valid",
        ),
        (
            "go.sum tree head followed by 'JOE' without a newline",
            ["published", "malformed-checkpoint"],
            "go-tlog-note-test",
            GOSUM_TREE + "JOE",
            "invalid",
        ),
        (
            "tree size in hexadecimal (0xabcdef)",
            ["published", "malformed-checkpoint"],
            "go-tlog-note-test",
            GOSUM_TREE.replace("123456789012", "0xabcdef"),
            "invalid",
        ),
        (
            "root hash of 35 bytes",
            ["published", "malformed-checkpoint"],
            "go-tlog-note-test",
            GOSUM_TREE.replace("Bb0=", "BTOOBIG="),
            "invalid",
        ),
        (
            "the empty tree: size 0 and the hash of the empty string",
            ["renkei-edge"],
            "renkei",
            f"renkei.example/log\n0\n{empty}\n",
            "valid",
        ),
        (
            "the 8-leaf test tree at size 8 with two extension lines",
            ["renkei-edge", "extension-line"],
            "renkei",
            f"renkei.example/log\n8\n{root8}\nx-ext one\nx-ext two\n",
            "valid",
        ),
        (
            "no final newline",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{root8}",
            "invalid",
        ),
        (
            "empty origin line",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"\n8\n{root8}\n",
            "invalid",
        ),
        (
            "only two lines",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            "renkei.example/log\n8\n",
            "invalid",
        ),
        (
            "an empty extension line",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{root8}\n\n",
            "invalid",
        ),
        (
            "tree size with a leading zero",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n08\n{root8}\n",
            "invalid",
        ),
        (
            "tree size with a plus sign",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n+8\n{root8}\n",
            "invalid",
        ),
        (
            "tree size with a space",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n 8\n{root8}\n",
            "invalid",
        ),
        (
            "tree size in non-ASCII digits (U+0668)",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n\u0668\n{root8}\n",
            "invalid",
        ),
        (
            "tree size 2^64, beyond uint64",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n18446744073709551616\n{root8}\n",
            "invalid",
        ),
        (
            "tree size 2^64 − 1, the largest",
            ["renkei-edge"],
            "renkei",
            f"renkei.example/log\n18446744073709551615\n{root8}\n",
            "valid",
        ),
        (
            "root hash in base64url",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{base64.urlsafe_b64encode(bytes.fromhex(ROOTS[7])).decode()}\n",
            "invalid",
        ),
        (
            "root hash without padding",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{root8.rstrip('=')}\n",
            "invalid",
        ),
        (
            "root hash with non-zero unused bits (non-canonical base64)",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{root8[:-2]}R=\n",
            "invalid",
        ),
        (
            "root hash of 31 bytes",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\n8\n{_b64(bytes.fromhex(ROOTS[7])[:31])}\n",
            "invalid",
        ),
        (
            "CR LF line endings",
            ["renkei-edge", "malformed-checkpoint"],
            "renkei",
            f"renkei.example/log\r\n8\r\n{root8}\r\n",
            "invalid",
        ),
    ]
    assert root8.endswith("=")
    assert not root8.endswith("R=")
    tests: list[Json] = []
    for comment, flags, source, body, result in rows:
        parsed = check_checkpoint_body(body)
        assert (parsed is not None) == (result == "valid"), comment
        test: Json = {"comment": comment, "flags": flags, "source": source, "body": body}
        if parsed is None:
            test |= {"origin": None, "treeSize": None, "rootHash": None, "extensions": None}
            test["error"] = "malformed-checkpoint"
        else:
            test |= parsed
            test["error"] = None
        test["result"] = result
        tests.append(test)
    return tests


NOTES: dict[str, Json] = {
    "published": {
        "bugType": "BASIC",
        "description": "Transcribed from published test data or a specification example (see 'source').",
    },
    "empty-tree": {
        "bugType": "EDGE_CASE",
        "description": "The tree of size 0, whose root is SHA-256 of the empty string (RFC 9162 §2.1.1).",
    },
    "power-of-two": {
        "bugType": "BASIC",
        "description": "A tree whose size is a power of two: one perfect subtree.",
    },
    "ragged": {
        "bugType": "EDGE_CASE",
        "description": "A tree whose size is not a power of two: the split is at the largest power of two below the size, not at the half.",
    },
    "empty-proof": {
        "bugType": "EDGE_CASE",
        "description": "The inclusion proof is empty: only a one-leaf tree, whose root is the leaf hash.",
    },
    "corrupted-proof": {
        "bugType": "MODIFIED_CIPHERTEXT",
        "description": "A published valid proof changed by the corruption recipe of transparency-dev/merkle verify_test.go (wrong index or sizes, wrong leaf or roots, bit flipped in a node, node added, removed or inserted); it must not verify.",
    },
    "out-of-range": {
        "bugType": "MALFORMED_INPUT",
        "description": "Leaf index not below the tree size: nothing to prove.",
    },
    "equal-sizes": {
        "bugType": "EDGE_CASE",
        "description": "Consistency between equal sizes: renkei (RK-LOG-009, 1 ≤ first ≤ second) and transparency-dev/merkle accept it exactly when the proof is empty and the roots are equal. RFC 9162 §2.1.4 defines proofs for 0 < m < n only, so a strict reading of §2.1.4.2 step 1 rejects every empty proof.",
    },
    "bad-sizes": {
        "bugType": "EDGE_CASE",
        "description": "A consistency claim with tree size 0 or with the first size above the second: refused in renkei's profile (1 ≤ first ≤ second, RK-LOG-009); older transparency-dev/merkle versions accepted 0 → n with an empty proof.",
    },
    "renkei-edge": {
        "bugType": "EDGE_CASE",
        "description": "Written for renkei from the RFC 9162 or C2SP rules (not transcribed); expected values are computed and re-checked by the generator.",
    },
    "signing": {
        "bugType": "BASIC",
        "description": "'signerKey' (Go note private key text: PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)) signs 'text' to exactly 'note': Ed25519 is deterministic (RFC 8032).",
    },
    "unknown-signature": {
        "bugType": "AUTHORIZATION",
        "description": "Signatures whose (key name, key ID) is not the verifier's are ignored; a note with no signature by the known key is rejected (C2SP signed-note, 'Signatures').",
    },
    "bad-signature": {
        "bugType": "MODIFIED_CIPHERTEXT",
        "description": "A signature line of the known key that does not verify: the whole note is rejected.",
    },
    "signature-limit": {
        "bugType": "EDGE_CASE",
        "description": "More signature lines than the verifier's limit. The spec requires accepting at least 16; renkei and Go reject more than 100 (malformed-checkpoint), so either outcome is acceptable.",
    },
    "malformed-note": {
        "bugType": "MALFORMED_INPUT",
        "description": "The note breaks the signed-note format (control characters, not UTF-8, no blank line before the signatures, bad signature line, missing final newline).",
    },
    "malformed-checkpoint": {
        "bugType": "MALFORMED_INPUT",
        "description": "The body breaks c2sp.org/tlog-checkpoint: lines, decimal tree size without leading zeroes, canonical standard base64 of a 32-byte root, non-empty extension lines, final newline.",
    },
    "extension-line": {
        "bugType": "EDGE_CASE",
        "description": "Extension lines after the root hash: opaque, non-empty, part of the signed text.",
    },
}

HEADER = [
    "Merkle trees of RFC 9162 §2.1 over SHA-256: leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right), split at the largest power of two below n.",
    "All hashes and leaves are lowercase hex. Proof nodes are listed leaf to root (inclusion) or as RFC 9162 §2.1.4.1 orders them (consistency). A proof node that is not 32 bytes makes the proof invalid.",
    "Sizes are unsigned 64-bit: probes that subtract 1 from 0 carry 2^64 − 1, as the transparency-dev/merkle testdata files do.",
    "TreeHash tests: 'leaves' → 'rootHash'. InclusionProof tests: verify ('leafIndex', 'treeSize', 'leafHash', 'proof') against 'rootHash'; 'leafInput', when present, hashes to 'leafHash'. ConsistencyProof tests: verify 'proof' from ('size1', 'root1') to ('size2', 'root2').",
    "A proof generator over the 8-leaf tree (and over 'leafInput' trees it can rebuild) must output exactly the 'proof' of every valid test that is not an equal-size special case.",
    "SignedNote tests: open 'note' (or the bytes 'noteHex') with the Ed25519 verifier key 'verifierKey' (<name>+<hex key ID>+base64(0x01 || key), C2SP signed-note); valid → the verified 'text'; invalid → the problem 'error'.",
    "CheckpointBody tests: parse 'body' as a C2SP tlog-checkpoint note text; valid → 'origin', 'treeSize', 'rootHash', 'extensions'; invalid → 'error'.",
    "Each test names its 'source' (a key of 'sources': repository, path, commit). 'acceptable' means either outcome conforms.",
]


def build() -> Json:
    groups = [
        ("TreeHash", tree_hash_tests()),
        ("InclusionProof", inclusion_tests()),
        ("ConsistencyProof", consistency_tests()),
        ("SignedNote", note_tests()),
        ("CheckpointBody", checkpoint_tests()),
    ]
    tc_id = 0
    out_groups = []
    used_flags: set[str] = set()
    for kind, tests in groups:
        ordered = []
        for test in tests:
            tc_id += 1
            used_flags |= set(test["flags"])
            row: Json = {"tcId": tc_id, "comment": test["comment"], "flags": test["flags"]}
            row |= {k: v for k, v in test.items() if k not in ("comment", "flags", "result")}
            row["result"] = test["result"]
            ordered.append(row)
        out_groups.append({"type": kind, "tests": ordered})
    if used_flags != set(NOTES):
        raise AssertionError(f"flags and notes differ: {sorted(used_flags ^ set(NOTES))}")
    used_sources = {t["source"] for _, tests in groups for t in tests}
    if not used_sources <= set(SOURCES):
        raise AssertionError(f"unknown sources: {sorted(used_sources - set(SOURCES))}")
    return {
        "$schema": SCHEMA_REF,
        "topic": "merkle-rfc9162",
        "algorithm": "RFC 9162 §2.1 Merkle tree hash, inclusion and consistency proofs (SHA-256); C2SP signed-note (Ed25519) and tlog-checkpoint",
        "status": "normative",
        "source": "; ".join(
            f"{s['repository']} {s['path']} @ {s['commit']}"
            for s in SOURCES.values()
            if s["repository"] != "renkei"
        )
        + "; renkei edge cases from RFC 9162 and C2SP (specs/vectors/generate_merkle.py)",
        "sources": SOURCES,
        "generator": GENERATOR,
        "numberOfTests": tc_id,
        "header": HEADER,
        "notes": NOTES,
        "requirements": ["RK-LOG-004", "RK-LOG-009"],
        "testLeaves": LEAVES,
        "testGroups": out_groups,
    }


def main(argv: list[str] | None = None) -> int:
    return vector_files.main({FILE_NAME: build}, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
