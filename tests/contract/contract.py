"""Check BigCommerce traffic against schemas derived from the official specs.

Tests call this module to assert that every request our client sends, every
response body it parses and every webhook delivery it accepts is one the
BigCommerce OpenAPI specs allow. The schemas come from
``bigcommerce.schemas.json`` next to this file, written by
``tools/derive_contract.py``; the specs themselves are not in the repository.

The schemas are JSON Schema draft 7 with the OpenAPI rule for ``readOnly`` and
``writeOnly`` restored: a required read-only property may be absent from a
request, a required write-only one from a response. Format checking is off by
default because BigCommerce does not use formats consistently (the v2 API
sends RFC 2822 dates where the spec may say ``date-time``, and some formats,
such as ``decimal`` or ``ISO-4217``, have no checker anyway).

A mismatch raises ``ContractViolation``, an ``AssertionError``, so pytest shows
it as a plain test failure naming the operation and what was wrong.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from jsonschema import Draft7Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

__all__ = [
    "CONTRACT_PATH",
    "Contract",
    "ContractViolation",
    "load_contract",
]

CONTRACT_PATH = Path(__file__).with_name("bigcommerce.schemas.json")

# The URI the contract document is registered under, so that operation
# schemas can be reached by JSON pointer and their "#/definitions/..."
# references resolve against the whole document.
_CONTRACT_URI = "urn:netterms:bigcommerce-contract"

# At most this many schema errors are listed in one violation message.
_MAX_ERRORS = 8

_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_STORE_PREFIX = re.compile(r"^/stores/[^/]+(?=/v\d+(/|$))")
_VERSIONED = re.compile(r"^/(v\d+)(/.*)?$")


class ContractViolation(AssertionError):
    """Traffic that the BigCommerce specs do not allow."""


def _describe(error: ValidationError) -> str:
    """One line per schema error; for anyOf/oneOf, also the closest branch's."""
    line = f"  at {error.json_path}: {error.message}"
    if error.context:
        closest = best_match(error.context)
        if closest is not None:
            line += f" (closest: at {closest.json_path}: {closest.message})"
    return line


_Keyword = Callable[
    [Validator, list[str], object, Mapping[str, Any]], Iterator[ValidationError]
]


def _required_unless(flag: str) -> _Keyword:
    """A ``required`` check that excuses properties annotated with ``flag``.

    OpenAPI 3.0 says a required ``readOnly`` property is only required in
    responses and a required ``writeOnly`` one only in requests; draft 7 has
    no such rule, so the keyword is replaced per direction.
    """

    def required(
        validator: Validator,
        names: list[str],
        instance: object,
        schema: Mapping[str, Any],
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, Mapping):
            return
        properties = schema.get("properties", {})
        for name in names:
            if name in instance:
                continue
            declared = properties.get(name)
            if isinstance(declared, Mapping) and declared.get(flag) is True:
                continue
            yield ValidationError(f"{name!r} is a required property")

    return required


_RequestValidator = validators.extend(
    Draft7Validator, {"required": _required_unless("readOnly")}
)
_ResponseValidator = validators.extend(
    Draft7Validator, {"required": _required_unless("writeOnly")}
)


def _pointer(*parts: str) -> str:
    """A URI fragment with a JSON pointer to ``parts`` inside the contract."""
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return "#" + quote("/" + "/".join(escaped), safe="/~:")


def _decode_body(body: object, where: str) -> object:
    """A JSON body as Python data; raw text or bytes are parsed, empty is None."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError as error:
            raise ContractViolation(f"{where}: body is not JSON: {error}") from None
    return body


def _query_text(value: object, name: str, where: str) -> str:
    """A query value as the text that goes on the wire."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ContractViolation(
        f"{where}: query parameter {name!r} must be a string, got {value!r}"
    )


class Contract:
    """The derived BigCommerce contract, with checks for requests and responses.

    Operations are keyed ``"METHOD /vN/template"`` exactly as in the specs,
    for example ``"GET /v2/orders/{order_id}"``.
    """

    def __init__(
        self, document: Mapping[str, Any], *, check_formats: bool = False
    ) -> None:
        self.document = document
        self.operations: Mapping[str, Mapping[str, Any]] = document["operations"]
        self.callbacks: Mapping[str, Any] = document["callbacks"]
        self.definitions: Mapping[str, Any] = document["definitions"]
        self._format_checker = Draft7Validator.FORMAT_CHECKER if check_formats else None
        resource = Resource.from_contents(document, default_specification=DRAFT7)
        self._registry: Registry[Any] = Registry().with_resource(
            _CONTRACT_URI, resource
        )
        self._validators: dict[tuple[bool, str], Validator] = {}
        # Path templates split into segments, a None segment being a parameter.
        self._templates: dict[str, tuple[str | None, ...]] = {}
        self._methods: dict[str, dict[str, str]] = {}
        for key in self.operations:
            method, template = key.split(" ", 1)
            self._templates[template] = tuple(
                None if re.fullmatch(r"\{[^}]+\}", part) else part
                for part in template.strip("/").split("/")
            )
            self._methods.setdefault(template, {})[method] = key

    # Public checks ---------------------------------------------------------

    def operation_for(self, method: str, url_or_path: str) -> str:
        """The operation key for a request, such as ``GET /v2/orders/{order_id}``.

        Raises ``ContractViolation`` for a path or method the specs lack, and
        for a path parameter that does not fit its schema (``/v2/orders/abc``).
        """
        return self._match(method, url_or_path)

    def validate_request(
        self,
        method: str,
        url_or_path: str,
        query: Mapping[str, str] | None,
        body: object | None,
    ) -> None:
        """Check a request's path, query parameters and JSON body.

        ``query`` adds to any query string in ``url_or_path``; its values are
        the text sent on the wire (ints and floats are accepted and turned to
        text, as aiohttp does). Array parameters are comma-separated, as
        BigCommerce expects them.
        ``body`` is the decoded JSON (or raw JSON text); None means no body.
        """
        key = self._match(method, url_or_path)
        operation = self.operations[key]
        pairs = parse_qsl(urlsplit(url_or_path).query, keep_blank_values=True)
        pairs += [
            (name, _query_text(value, name, key))
            for name, value in (query or {}).items()
        ]
        self._check_query(key, operation, pairs)

        body = _decode_body(body, f"{key} request")
        if operation["request_body"] is None:
            if body is not None:
                raise ContractViolation(f"{key}: takes no request body, got one")
            return
        if body is None:
            if operation["request_body_required"]:
                raise ContractViolation(f"{key}: request body is required")
            return
        fragment = _pointer("operations", key, "request_body")
        self._validate(key, "request body", fragment, body, request=True)

    def validate_response(
        self, method: str, url_or_path: str, status: int, body: object | None
    ) -> None:
        """Check a response body against the schema declared for its status.

        A 2xx (or other non-error) status the spec does not declare is a
        violation; so is a body on a response declared without one, such as
        204. Error statuses without a declared schema are not checked.
        """
        key = self.operation_for(method, url_or_path)
        responses = self.operations[key]["responses"]
        where = f"{key} response {status}"
        declared = str(status)
        if declared not in responses:
            declared = f"{status // 100}XX"
        is_error = status >= 400
        if declared not in responses:
            if not is_error:
                raise ContractViolation(
                    f"{where}: status not declared; declared: {sorted(responses)}"
                )
            return
        body = _decode_body(body, where)
        if responses[declared] is None:
            if body is not None and not is_error:
                raise ContractViolation(f"{where}: declared without a body, got one")
            return
        if body is None:
            if not is_error:
                raise ContractViolation(f"{where}: a JSON body is declared, got none")
            return
        fragment = _pointer("operations", key, "responses", declared)
        self._validate(key, f"response {status}", fragment, body, request=False)

    def validate_callback(self, payload: Mapping[str, Any]) -> None:
        """Check a webhook delivery against the schema for its ``scope``."""
        if not isinstance(payload, Mapping):
            raise ContractViolation(f"callback payload is not an object: {payload!r}")
        scope = payload.get("scope")
        if not isinstance(scope, str) or scope not in self.callbacks:
            raise ContractViolation(f"callback has an unknown scope: {scope!r}")
        fragment = _pointer("callbacks", scope)
        self._validate(f"callback {scope}", "payload", fragment, payload, request=False)

    # Matching ----------------------------------------------------------------

    def _match(self, method: str, url_or_path: str) -> str:
        """Find the operation for a request and check its path parameters.

        The most specific template wins: at the first segment where two
        templates differ, a literal beats a parameter, so ``/orders/count``
        is not taken for ``/orders/{order_id}``.
        """
        method = method.upper()
        path = _STORE_PREFIX.sub("", urlsplit(url_or_path).path)
        if path != "/":
            path = path.rstrip("/")
        if not _VERSIONED.match(path):
            raise ContractViolation(
                f"{method} {url_or_path}: not a /v2 or /v3 BigCommerce API path"
            )
        parts = [unquote(part) for part in path.strip("/").split("/")]
        candidates = [
            template
            for template, segments in self._templates.items()
            if len(segments) == len(parts)
            and all(
                segment == part if segment is not None else part != ""
                for segment, part in zip(segments, parts, strict=True)
            )
        ]
        if not candidates:
            raise ContractViolation(f"{method} {path}: no such path in the specs")
        template = min(
            candidates,
            key=lambda name: tuple(s is None for s in self._templates[name]),
        )
        key = self._methods[template].get(method)
        if key is None:
            raise ContractViolation(
                f"{method} {template}: method not in the specs; "
                f"declared: {sorted(self._methods[template])}"
            )
        values = {
            segment.strip("{}"): part
            for segment, part in zip(template.strip("/").split("/"), parts, strict=True)
            if segment.startswith("{")
        }
        for name, text in values.items():
            schema = self.operations[key]["path"].get(name, {})
            self._check_text(
                key, f"path parameter {name!r}", schema, text, "path", name
            )
        return key

    # Parameters ----------------------------------------------------------------

    def _check_query(
        self, key: str, operation: Mapping[str, Any], pairs: list[tuple[str, str]]
    ) -> None:
        """Check query names, values and required parameters for one operation."""
        declared: Mapping[str, Any] = operation["query"]
        for name, text in pairs:
            if name not in declared:
                raise ContractViolation(
                    f"{key}: unknown query parameter {name!r}; "
                    f"declared: {sorted(declared) or 'none'}"
                )
            self._check_text(
                key,
                f"query parameter {name!r}",
                declared[name]["schema"],
                text,
                "query",
                name,
                "schema",
            )
        given = {name for name, _ in pairs}
        missing = sorted(
            name
            for name, spec in declared.items()
            if spec["required"] and name not in given
        )
        if missing:
            raise ContractViolation(
                f"{key}: missing required query parameters {missing}"
            )

    def _check_text(
        self,
        key: str,
        what: str,
        schema: Mapping[str, Any],
        text: str,
        *location: str,
    ) -> None:
        """Parse a path or query value per its schema, then validate the result."""
        try:
            value = self._parse(schema, text)
        except ValueError as error:
            raise ContractViolation(f"{key}: {what}={text!r}: {error}") from None
        fragment = _pointer("operations", key, *location)
        self._validate(key, what, fragment, value, request=True, shown=text)

    def _parse(self, schema: Mapping[str, Any], text: str) -> object:
        """Turn parameter text into the JSON value its schema describes."""
        schema = self._resolve(schema)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind == "array":
            items = schema.get("items", {})
            return [self._parse(items, part) for part in text.split(",")]
        if kind == "integer":
            if not _INTEGER.fullmatch(text):
                raise ValueError("not an integer")
            return int(text)
        if kind == "number":
            if not _NUMBER.fullmatch(text):
                raise ValueError("not a number")
            return int(text) if _INTEGER.fullmatch(text) else float(text)
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError("not a boolean ('true' or 'false')")
            return text == "true"
        return text

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow ``#/definitions`` references to the schema they name."""
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/definitions/")
            schema = self.definitions[name]
        return schema

    # Validation ----------------------------------------------------------------

    def _validate(
        self,
        key: str,
        what: str,
        fragment: str,
        instance: object,
        *,
        request: bool,
        shown: object = None,
    ) -> None:
        """Validate ``instance`` against the schema at ``fragment``.

        ``request`` picks the direction, which decides whether required
        readOnly (request) or writeOnly (response) properties are excused.
        """
        validator = self._validator(request, fragment)
        lines = sorted({_describe(error) for error in validator.iter_errors(instance)})
        if not lines:
            return
        if len(lines) > _MAX_ERRORS:
            lines = [*lines[:_MAX_ERRORS], f"  ... and {len(lines) - _MAX_ERRORS} more"]
        value = "" if shown is None else f"={shown!r}"
        raise ContractViolation(
            f"{key}: {what}{value} breaks the contract:\n" + "\n".join(lines)
        )

    def _validator(self, request: bool, fragment: str) -> Validator:
        """A cached validator for the schema at ``fragment`` in the contract."""
        cached = self._validators.get((request, fragment))
        if cached is None:
            cls = _RequestValidator if request else _ResponseValidator
            cached = cls(
                {"$ref": _CONTRACT_URI + fragment},
                registry=self._registry,
                format_checker=self._format_checker,
            )
            self._validators[(request, fragment)] = cached
        return cached


@functools.cache
def load_contract(*, check_formats: bool = False) -> Contract:
    """The contract from ``bigcommerce.schemas.json``, loaded once per process."""
    with CONTRACT_PATH.open(encoding="utf-8") as handle:
        document = json.load(handle)
    return Contract(document, check_formats=check_formats)
