"""The grammar of recipe values that reach a command line, a label or a file: checked, not trusted.

Each `check_*` returns None when the value is well formed, else the reason in words (the recipe
model's validators turn it into an error at the field). Pure string work: no network, no docker.
"""

from __future__ import annotations

import ipaddress
import re

# OCI image reference, from distribution/reference reference.go (v0.5.0, lines 4-26):
#   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ["/" path-component]*
#   domain := host [":" port];  path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [_.]|__|[-]+
#   tag := [\w][\w.-]{0,127};  digest := algorithm ":" [0-9a-fA-F]{32,}.  The name is at most 255 characters.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_MAX_IMAGE_NAME = 255

# RFC 1123 host names: labels of 1-63 letters, digits and '-', not starting or ending with '-'.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

# What clients send as `model`; vLLM accepts any string, but this one also goes into labels, argv
# and file names: an HF-id-like name, without spaces, quotes or control characters.
_SERVED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]{0,127}$")

# Shapes of real secrets, anywhere in a value: a pasted token where a NAME belongs must never be stored.
SECRET_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_\-]{16,}|nvapi-[A-Za-z0-9_\-]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16})"
)
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "CREDENTIALS")


def check_host(value: str) -> str | None:
    """An IP address (v4 or v6) or an RFC 1123 host name."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if not value or len(value) > 253 or value.replace(".", "").isdigit():
        return f"'{value}' is not an IP address or host name"
    if not all(_HOST_LABEL.match(label) for label in value.rstrip(".").split(".")):
        return f"'{value}' is not an IP address or host name (letters, digits, '-' and '.' only)"
    return None


def check_image(value: str) -> str | None:
    """An OCI image reference: [registry[:port]/]path[:tag][@digest], path in lowercase."""
    match = _IMAGE.match(value)
    if match is None:
        return (
            f"'{value}' is not an image reference of the form [registry/]name[:tag][@sha256:...] "
            "(lowercase name, no spaces)"
        )
    if len(match["name"]) > _MAX_IMAGE_NAME:
        return f"the image name is longer than {_MAX_IMAGE_NAME} characters"
    return None


def check_served_name(value: str) -> str | None:
    if _SERVED_NAME.match(value):
        return None
    return (
        f"'{value}' is not a served model name: use 1-128 letters, digits and . _ : / @ + -, "
        "starting with a letter or digit"
    )


def looks_secret_name(name: str) -> bool:
    """A variable or flag name that says it holds a secret: HF_TOKEN, --api-key, DB_PASSWORD, SSH_KEY.

    Whole words only, so that --max-num-tokens, --tokenizer or --ssl-keyfile are not taken for one."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", name.upper()) if word]
    if any(word in SECRET_WORDS for word in words):
        return True
    return bool(words) and words[-1] in ("KEY", "APIKEY")


def secret_in(value: str) -> bool:
    """A value that holds something shaped like a real token."""
    return SECRET_SHAPES.search(value) is not None
