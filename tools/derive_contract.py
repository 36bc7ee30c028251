"""Derive the BigCommerce contract schemas from the official OpenAPI specs.

Run by hand when the specs are refreshed::

    python tools/derive_contract.py SPEC_DIR [--output PATH]

SPEC_DIR holds unmodified copies of six spec files and the ``callbacks/``
folder from the ``bigcommerce/docs`` repository. Their licence is unclear, so
neither the files nor any of their prose may be committed here. This script
keeps only the machine-checkable part of each schema (types, properties,
required lists, enums, formats, bounds, nullability) and writes it, as JSON
Schema draft 7, to ``tests/contract/bigcommerce.schemas.json``. The contract
tests then run from that file alone, without the specs.

OpenAPI 3.0 is close to, but not quite, JSON Schema, so the schemas are
translated on the way: ``nullable`` becomes a ``"null"`` type, boolean
``exclusiveMinimum``/``exclusiveMaximum`` become numeric bounds, and
OpenAPI-only or prose keywords are dropped. ``readOnly``/``writeOnly`` are
kept: they are draft 7 annotations, and the validator needs them to apply the
OpenAPI rule that a required read-only property is not required in a request.

Every ``$ref`` to a component schema becomes a ``#/definitions/...`` reference
into one shared map, named ``<spec>:<component>`` because component names
repeat across specs with different contents. Definitions are emitted only when
reachable from an operation or callback, which keeps the file small and makes
recursive references harmless.

Anything odd found in the specs is printed to stderr as a warning, so that a
spec refresh shows what changed; a few clear spec bugs are patched (see
``SPEC_FIXES``) and each patch refuses to apply if upstream has changed.
PyYAML is needed to run this script; the tests themselves do not need it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = "bigcommerce/docs"
COMMIT = "24f580ca6d2981728b7ed70a2049e00fc602c335"
DIALECT = "http://json-schema.org/draft-07/schema#"

# Local copy name -> path in the upstream repository. The local names are how
# SPEC_DIR lays them out; the upstream paths go into the output for provenance.
SPEC_FILES: dict[str, str] = {
    "customers.v2.yml": "reference/customers.v2.yml",
    "customers.v3.yml": "reference/customers.v3.yml",
    "orders.v2.oas2.yml": "reference/orders.v2.oas2.yml",
    "orders.v3.yml": "reference/orders.v3.yml",
    "store_information.v2.yml": "reference/store_information.v2.yml",
    "webhooks.v3.yml": "reference/webhooks.v3.yml",
}
CALLBACK_DIR = "callbacks"
CALLBACK_UPSTREAM_DIR = "docs/webhooks/callbacks"
WEBHOOK_SPEC = "webhooks.v3.yml"

# Operations the daemon relies on. Every operation of every spec is derived;
# these are checked so that a spec refresh cannot silently lose one.
REQUIRED_OPERATIONS = (
    "GET /v2/customer_groups",
    "POST /v2/customer_groups",
    "GET /v2/customer_groups/{customer_group_id}",
    "PUT /v2/customer_groups/{customer_group_id}",
    "DELETE /v2/customer_groups/{customer_group_id}",
    "GET /v2/orders",
    "POST /v2/orders",
    "DELETE /v2/orders",
    "GET /v2/orders/{order_id}",
    "PUT /v2/orders/{order_id}",
    "DELETE /v2/orders/{order_id}",
    "GET /v2/order_statuses",
    "GET /v2/store",
    "GET /v2/time",
    "GET /v3/customers",
    "POST /v3/customers",
    "PUT /v3/customers",
    "DELETE /v3/customers",
    "GET /v3/orders/{order_id}/metafields",
    "POST /v3/orders/{order_id}/metafields",
    "GET /v3/orders/{order_id}/metafields/{metafield_id}",
    "PUT /v3/orders/{order_id}/metafields/{metafield_id}",
    "DELETE /v3/orders/{order_id}/metafields/{metafield_id}",
    "GET /v3/orders/metafields",
    "POST /v3/orders/metafields",
    "PUT /v3/orders/metafields",
    "DELETE /v3/orders/metafields",
    "GET /v3/hooks",
    "POST /v3/hooks",
    "GET /v3/hooks/{webhook_id}",
    "PUT /v3/hooks/{webhook_id}",
    "DELETE /v3/hooks/{webhook_id}",
    "GET /v3/hooks/admin",
    "PUT /v3/hooks/admin",
)
REQUIRED_CALLBACKS = (
    "store/customer/created",
    "store/customer/deleted",
    "store/customer/updated",
    "store/order/archived",
    "store/order/created",
    "store/order/statusUpdated",
    "store/order/updated",
)

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON_MEDIA_TYPE = "application/json"
JSON_TYPES = frozenset(
    ("array", "boolean", "integer", "null", "number", "object", "string")
)

# Keywords copied as they are (their values hold no subschemas).
PLAIN_KEYWORDS = frozenset(
    (
        "default",
        "enum",
        "format",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "pattern",
        "readOnly",
        "uniqueItems",
        "writeOnly",
    )
)
# Keywords dropped silently: prose, examples and OpenAPI-only annotations.
DROPPED_KEYWORDS = frozenset(
    (
        "deprecated",
        "description",
        "discriminator",
        "example",
        "examples",
        "externalDocs",
        "summary",
        "title",
        "xml",
    )
)

JsonObject = dict[str, Any]


def warn(message: str) -> None:
    """Report a spec quirk; warnings are how a refresh shows what changed."""
    print(f"warning: {message}", file=sys.stderr)


def git_blob_sha1(data: bytes) -> str:
    """The git blob hash, so the output names exactly which upstream blob it used."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --- Spec fixes -------------------------------------------------------------


def _fix_price_list_required(specs: Mapping[str, JsonObject]) -> None:
    """customers.v2 requires ``price_list`` in a price-list discount rule.

    The property is called ``price_list_id`` everywhere else (including that
    same object's ``properties``), so every real request would fail the first
    ``oneOf`` branch, and as the other branches demand a different ``type``,
    the whole rule.
    """
    schemas = specs["customers.v2.yml"]["components"]["schemas"]
    for name in ("customerGroup_Post_Put", "customerGroup_Full", "customerGroup_Base"):
        schema = schemas.get(name)
        if schema is None:
            continue
        rules = schema.get("properties", {}).get("discount_rules", {})
        for branch in rules.get("oneOf", []):
            items = branch.get("items", {})
            required = items.get("required")
            if isinstance(required, list) and "price_list" in required:
                if "price_list_id" not in items.get("properties", {}):
                    raise SystemExit(f"spec fix for {name} no longer applies")
                items["required"] = [
                    "price_list_id" if entry == "price_list" else entry
                    for entry in required
                ]
                warn(f"customers.v2:{name}: required 'price_list' -> 'price_list_id'")


def _fix_order_metafield_put(specs: Mapping[str, JsonObject]) -> None:
    """orders.v3 reuses the POST metafield schema, all fields required, for PUT.

    The same metafield service in customers.v3 declares a separate PUT schema
    with nothing required, and an update naturally sends only what changes
    (our client sends just ``value``, plus ``id`` in the batch form). So the
    two PUT bodies get a copy of the POST schema without its required list;
    the batch form keeps requiring ``id``.
    """
    spec = specs["orders.v3.yml"]
    schemas = spec["components"]["schemas"]
    post_ref = "#/components/schemas/MetafieldBase_Post"
    put_ref = "#/components/schemas/MetafieldBase_Put"
    single = schemas["MetafieldPut"].get("allOf")
    batch = spec["paths"]["/orders/metafields"]["put"]["requestBody"]["content"]
    batch_parts = batch[JSON_MEDIA_TYPE]["schema"]["items"]["allOf"]
    if (
        "MetafieldBase_Put" in schemas
        or single != [{"$ref": post_ref}]
        or batch_parts[0] != {"$ref": post_ref}
    ):
        raise SystemExit("spec fix for orders.v3 metafield PUT no longer applies")
    relaxed = copy.deepcopy(schemas["MetafieldBase_Post"])
    relaxed.pop("required", None)
    schemas["MetafieldBase_Put"] = relaxed
    single[0] = {"$ref": put_ref}
    batch_parts[0] = {"$ref": put_ref}
    warn("orders.v3: metafield PUT bodies no longer require the POST fields")


def _fix_order_sort_direction(specs: Mapping[str, JsonObject]) -> None:
    """orders.v2's ``sort`` enum lists bare fields, yet takes a direction.

    The parameter's own documentation says to append ``:asc`` or ``:desc``,
    which the enum then forbids; both forms are allowed here.
    """
    param = specs["orders.v2.oas2.yml"]["components"]["parameters"]["sort"]
    enum = param["schema"].get("enum")
    if not enum or any(":" in value for value in enum):
        raise SystemExit("spec fix for orders.v2 sort no longer applies")
    param["schema"]["enum"] = [
        f"{value}{suffix}" for value in enum for suffix in ("", ":asc", ":desc")
    ]
    warn("orders.v2: sort enum extended with ':asc' and ':desc' forms")


def _fix_v2_empty_lists(specs: Mapping[str, JsonObject]) -> None:
    """V2 answers an empty list page with 204 No Content, which few GETs declare.

    Paging through V2 lists ends on that 204 (or a short page), so every V2
    GET whose 200 body is an array gets a body-less 204 unless it has one.
    """
    for spec, document in specs.items():
        if server_version(spec, document) != "v2":
            continue
        for path, item in document["paths"].items():
            responses = item.get("get", {}).get("responses", {})
            ok = responses.get("200", {})
            while "$ref" in ok:
                ok = document["components"]["responses"][ok["$ref"].split("/")[-1]]
            schema = ok.get("content", {}).get(JSON_MEDIA_TYPE, {}).get("schema", {})
            if schema.get("type") == "array" and "204" not in responses:
                responses["204"] = {}
                warn(f"GET /v2{path}: 204 for an empty list added")


def _fix_empty_hook_list(specs: Mapping[str, JsonObject]) -> None:
    """webhooks.v3 says a hook list holds at least one hook.

    An account that has registered no hook yet (netterms on its first start)
    lists none, so ``minItems: 1`` on the list's ``data`` is dropped.
    """
    responses = specs["webhooks.v3.yml"]["components"]["responses"]
    data = responses["webhooks_Resp"]["content"][JSON_MEDIA_TYPE]["schema"]
    data = data["properties"]["data"]
    if data.get("minItems") != 1:
        raise SystemExit("spec fix for the webhooks list no longer applies")
    del data["minItems"]
    warn("webhooks.v3: an empty hook list is allowed")


SPEC_FIXES: tuple[Callable[[Mapping[str, JsonObject]], None], ...] = (
    _fix_price_list_required,
    _fix_order_metafield_put,
    _fix_order_sort_direction,
    _fix_v2_empty_lists,
    _fix_empty_hook_list,
)


# --- Schema conversion ------------------------------------------------------


@dataclass
class Deriver:
    """Turns OpenAPI 3.0 schemas from several specs into one definitions map.

    Component schemas are converted once each, on first reference, through a
    work queue; the reference is emitted before the target is converted, so a
    schema that refers to itself converts like any other.
    """

    specs: Mapping[str, JsonObject]
    definitions: dict[str, JsonObject] = field(default_factory=dict)
    _queue: list[tuple[str, str]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    # References -------------------------------------------------------------

    def component(self, spec: str, ref: str) -> JsonObject:
        """Resolve a local ``#/components/<kind>/<name>`` reference in one spec."""
        match = re.fullmatch(r"#/components/([^/]+)/([^/]+)", ref)
        if match is None:
            raise SystemExit(f"{spec}: unsupported $ref {ref!r}")
        kind, name = match.groups()
        try:
            target: JsonObject = self.specs[spec]["components"][kind][name]
        except KeyError:
            raise SystemExit(f"{spec}: dangling $ref {ref!r}") from None
        return target

    def deref(self, spec: str, node: JsonObject) -> JsonObject:
        """Follow non-schema references (responses, parameters, request bodies)."""
        hops = 0
        while "$ref" in node:
            node = self.component(spec, node["$ref"])
            hops += 1
            if hops > 20:
                raise SystemExit(f"{spec}: reference loop at {node!r}")
        return node

    def definition_ref(self, spec: str, ref: str) -> JsonObject:
        """A ``#/definitions`` reference, queueing the component for conversion."""
        self.component(spec, ref)  # fail early on a dangling reference
        if not ref.startswith("#/components/schemas/"):
            raise SystemExit(f"{spec}: schema $ref outside components/schemas: {ref}")
        name = ref.rsplit("/", 1)[1]
        key = f"{spec_label(spec)}:{name}"
        if key not in self._seen:
            self._seen.add(key)
            self._queue.append((spec, name))
        return {"$ref": f"#/definitions/{key}"}

    def drain(self) -> None:
        """Convert every queued component schema, including ones queued meanwhile."""
        while self._queue:
            spec, name = self._queue.pop()
            source = self.specs[spec]["components"]["schemas"][name]
            where = f"{spec_label(spec)}:{name}"
            self.definitions[where] = self.schema(spec, source, where)

    # Schemas -------------------------------------------------------------------

    def schema(self, spec: str, node: Any, where: str) -> JsonObject:
        """Convert one OpenAPI 3.0 schema object to JSON Schema draft 7."""
        if not isinstance(node, dict):
            raise SystemExit(f"{where}: schema is not an object: {node!r}")
        if "$ref" in node:
            ignored = set(node) - {"$ref"} - DROPPED_KEYWORDS
            if ignored:
                warn(f"{where}: keywords beside $ref ignored: {sorted(ignored)}")
            return self.definition_ref(spec, node["$ref"])

        out: JsonObject = {}
        for key, value in node.items():
            self._keyword(spec, key, value, node, out, f"{where}/{key}")
        self._bounds(node, out, where)
        if node.get("nullable") is True:
            out = make_nullable(out)
        return out

    def _keyword(
        self,
        spec: str,
        key: str,
        value: Any,
        node: JsonObject,
        out: JsonObject,
        where: str,
    ) -> None:
        """Translate one keyword of a schema object into ``out``."""
        if key in DROPPED_KEYWORDS or key.startswith("x-"):
            return
        if key in ("nullable", "exclusiveMinimum", "exclusiveMaximum"):
            return  # handled by the caller, which sees the sibling keywords
        if key == "type":
            out["type"] = checked_type(value, where)
        elif key == "properties":
            out["properties"] = {
                name: self.schema(spec, sub, f"{where}/{name}")
                for name, sub in value.items()
            }
        elif key in ("items", "not"):
            out[key] = self.schema(spec, value, where)
        elif key == "additionalProperties":
            out[key] = (
                value if isinstance(value, bool) else self.schema(spec, value, where)
            )
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [
                self.schema(spec, sub, f"{where}/{index}")
                for index, sub in enumerate(value)
            ]
        elif key == "required":
            self._required(value, node, out, where)
        elif key in PLAIN_KEYWORDS:
            out[key] = value
        else:
            warn(f"{where}: unknown keyword dropped")

    @staticmethod
    def _required(value: Any, node: JsonObject, out: JsonObject, where: str) -> None:
        """Keep a required list, flagging names the same object does not declare."""
        if not isinstance(value, list):
            warn(f"{where}: non-list 'required' dropped: {value!r}")
            return
        declared = node.get("properties")
        if isinstance(declared, dict):
            for name in value:
                if name not in declared:
                    warn(f"{where}: required {name!r} is not among the properties")
        if value:
            out["required"] = list(value)

    @staticmethod
    def _bounds(node: JsonObject, out: JsonObject, where: str) -> None:
        """Turn OpenAPI 3.0 boolean exclusive bounds into draft 7 numeric ones."""
        for flag, bound in (
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ):
            value = node.get(flag)
            if value is None or value is False:
                continue
            if value is True and bound in node:
                out[flag] = out.pop(bound)
            else:
                warn(f"{where}: {flag}={value!r} without {bound} dropped")


def spec_label(spec: str) -> str:
    """The prefix for a spec's definitions: its file name without suffixes."""
    return spec.removesuffix(".yml").removesuffix(".oas2")


def checked_type(value: Any, where: str) -> Any:
    """A draft 7 ``type``; OpenAPI allows only one name, JSON Schema a list."""
    names = value if isinstance(value, list) else [value]
    for name in names:
        if name not in JSON_TYPES:
            raise SystemExit(f"{where}: unknown type {name!r}")
    return value


def make_nullable(schema: JsonObject) -> JsonObject:
    """Apply OpenAPI ``nullable: true``: allow ``null`` besides the schema."""
    kind = schema.get("type")
    if kind is None:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" not in kinds:
        out["type"] = [*kinds, "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


# --- Ambiguous oneOf --------------------------------------------------------

# Values that many schemas accept: if two branches of a oneOf both accept one,
# that value (and usually every real payload) matches "more than one" branch.
WITNESSES: tuple[tuple[str, object], ...] = (("array", []), ("object", {}))


def accepts_witness(
    schema: Any, kind: str, definitions: Mapping[str, JsonObject], depth: int = 0
) -> bool:
    """Whether ``schema`` certainly accepts the empty value of type ``kind``.

    Deliberately conservative: anything not understood counts as "no", so a
    oneOf is only relaxed when the overlap is certain.
    """
    if schema is True or schema == {}:
        return True
    if not isinstance(schema, dict) or depth > 20:
        return False
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return accepts_witness(definitions[name], kind, definitions, depth + 1)
    if any(key in schema for key in ("not", "enum", "const", "contains", "oneOf")):
        return False  # could reject; a nested oneOf rejects on a double match
    declared = schema.get("type", kind)
    if kind not in (declared if isinstance(declared, list) else [declared]):
        return False
    if schema.get("required") or schema.get("minItems") or schema.get("minProperties"):
        return False
    if any(
        not accepts_witness(sub, kind, definitions, depth + 1)
        for sub in schema.get("allOf", [])
    ):
        return False
    return "anyOf" not in schema or any(
        accepts_witness(sub, kind, definitions, depth + 1) for sub in schema["anyOf"]
    )


def relax_ambiguous_one_of(
    node: Any, definitions: Mapping[str, JsonObject], where: str
) -> None:
    """Turn a ``oneOf`` into ``anyOf`` where two branches certainly overlap.

    BigCommerce writes ``oneOf`` for "one of these shapes" without making the
    shapes exclusive (no ``required`` or discriminating ``enum``): an empty
    array matches every array branch, an empty object every object branch. A
    validator would then reject what the spec authors meant to allow, such
    as every customer group with no discount rules. Done in place.
    """
    if isinstance(node, list):
        for index, item in enumerate(node):
            relax_ambiguous_one_of(item, definitions, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    branches = node.get("oneOf")
    if isinstance(branches, list):
        for kind, witness in WITNESSES:
            matching = sum(
                accepts_witness(branch, kind, definitions) for branch in branches
            )
            if matching >= 2:
                warn(f"{where}: {matching} oneOf branches accept {witness!r}; anyOf")
                node["anyOf"] = node.pop("oneOf")
                break
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                relax_ambiguous_one_of(sub, definitions, f"{where}/{key}/{name}")
        elif key not in ("enum", "default"):
            relax_ambiguous_one_of(value, definitions, f"{where}/{key}")


# --- Operations -------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One OpenAPI parameter, reduced to what a request can be checked against."""

    name: str
    location: str
    required: bool
    schema: JsonObject


def server_version(spec: str, document: JsonObject) -> str:
    """The ``v2``/``v3`` prefix, from the server URL every path hangs off."""
    urls = [server["url"] for server in document.get("servers", [])]
    versions = {
        match.group(1)
        for url in urls
        if (match := re.search(r"/stores/\{store_hash\}/(v\d+)$", url))
    }
    if len(versions) != 1:
        raise SystemExit(f"{spec}: cannot tell the API version from {urls}")
    return versions.pop()


def operation_parameters(
    deriver: Deriver, spec: str, item: JsonObject, operation: JsonObject, key: str
) -> dict[tuple[str, str], Parameter]:
    """Path-level then operation-level parameters; the latter override by name."""
    merged: dict[tuple[str, str], Parameter] = {}
    for level in (item.get("parameters", []), operation.get("parameters", [])):
        for raw in level:
            param = deriver.deref(spec, raw)
            location = param.get("in")
            if location not in ("query", "path"):
                continue  # headers and cookies are the HTTP client's business
            name = param["name"]
            if "schema" not in param:
                warn(f"{key}: parameter {name!r} has no schema")
            if (location, name) in merged:
                warn(f"{key}: {location} parameter {name!r} declared twice")
            merged[(location, name)] = Parameter(
                name=name,
                location=location,
                required=bool(param.get("required", location == "path")),
                schema=deriver.schema(
                    spec, param.get("schema", {}), f"{key} {location} {name}"
                ),
            )
    return merged


def path_parameters(
    key: str, path: str, params: Mapping[tuple[str, str], Parameter]
) -> JsonObject:
    """Schemas for the template's parameters, checked against the declarations."""
    in_template = re.findall(r"\{([^}]+)\}", path)
    declared = {name for (location, name) in params if location == "path"}
    out: JsonObject = {}
    for name in in_template:
        param = params.get(("path", name))
        if param is None:
            warn(f"{key}: path parameter {name!r} is not declared")
            out[name] = {"type": "string"}
        else:
            out[name] = param.schema
    for name in sorted(declared - set(in_template)):
        warn(f"{key}: declared path parameter {name!r} is not in the path")
    for name in sorted(set(in_template) & {n for (loc, n) in params if loc == "query"}):
        warn(f"{key}: {name!r} is declared both in the path and in the query")
    return out


def json_schema_of(
    deriver: Deriver, spec: str, content: Any, where: str
) -> JsonObject | None:
    """The converted JSON schema of a ``content`` map, or None when it has none."""
    if not content:
        return None
    others = sorted(media for media in content if media != JSON_MEDIA_TYPE)
    if others:
        warn(f"{where}: non-JSON media types ignored: {others}")
    media = content.get(JSON_MEDIA_TYPE)
    if not media or "schema" not in media:
        return None
    return deriver.schema(spec, media["schema"], where)


def operation_responses(
    deriver: Deriver, spec: str, operation: JsonObject, key: str
) -> JsonObject:
    """Response schema per declared status; 204 always has no body."""
    out: JsonObject = {}
    for status, raw in operation.get("responses", {}).items():
        status = str(status)
        response = deriver.deref(spec, raw)
        schema = json_schema_of(
            deriver, spec, response.get("content"), f"{key} {status}"
        )
        if status == "204" and schema is not None:
            warn(f"{key}: 204 declares a body schema; treated as no body")
            schema = None
        out[status] = schema
    if not any(status.startswith("2") for status in out):
        warn(f"{key}: no 2xx response declared")
    return out


def derive_operations(deriver: Deriver) -> JsonObject:
    """Every operation of every spec, keyed ``METHOD /vN/path``."""
    operations: JsonObject = {}
    for spec, document in deriver.specs.items():
        version = server_version(spec, document)
        for path, item in document["paths"].items():
            for method in HTTP_METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                key = f"{method.upper()} /{version}{path}"
                if key in operations:
                    raise SystemExit(f"{key} is declared by two specs")
                operations[key] = derive_operation(
                    deriver, spec, path, item, operation, key
                )
    return operations


def derive_operation(
    deriver: Deriver,
    spec: str,
    path: str,
    item: JsonObject,
    operation: JsonObject,
    key: str,
) -> JsonObject:
    """One operation: its parameters, request body and responses."""
    params = operation_parameters(deriver, spec, item, operation, key)
    body = deriver.deref(spec, operation.get("requestBody", {}))
    request_body = json_schema_of(deriver, spec, body.get("content"), f"{key} body")
    if body.get("content") and request_body is None:
        warn(f"{key}: request body has no JSON schema")
    return {
        "path": path_parameters(key, path, params),
        "query": {
            param.name: {"required": param.required, "schema": param.schema}
            for (location, _), param in params.items()
            if location == "query"
        },
        "request_body": request_body,
        "request_body_required": bool(body.get("required", False))
        and request_body is not None,
        "responses": operation_responses(deriver, spec, operation, key),
    }


# --- Callbacks --------------------------------------------------------------


def spec_callbacks(deriver: Deriver) -> dict[str, JsonObject]:
    """Callback payload schemas declared as components of the webhooks spec.

    The spec has no ``callbacks`` section; each event is a component named
    after its scope, whose ``title`` is the scope and which extends the common
    callback envelope through ``allOf``. Wildcard scopes have no payload.
    """
    out: dict[str, JsonObject] = {}
    schemas = deriver.specs[WEBHOOK_SPEC]["components"]["schemas"]
    for name, schema in schemas.items():
        scope = schema.get("title")
        if not (isinstance(scope, str) and scope.startswith("store/")):
            continue
        if scope.endswith("/*"):
            continue
        if "allOf" not in schema:
            warn(f"webhooks.v3:{name}: callback {scope!r} has no payload schema")
            continue
        out[scope] = deriver.definition_ref(
            WEBHOOK_SPEC, f"#/components/schemas/{name}"
        )
    return out


def file_callbacks(
    deriver: Deriver, folder: Path
) -> Iterator[tuple[str, str, bytes, JsonObject]]:
    """Callback schemas from the per-event files: (scope, file, bytes, schema).

    Each file wraps the payload schema in an object with one property named
    after the scope; only that inner schema is the payload.
    """
    for path in sorted(folder.glob("store_*.yml")):
        data = path.read_bytes()
        document = yaml.safe_load(data)
        scopes = list(document.get("properties", {}))
        if len(scopes) != 1:
            warn(f"{path.name}: expected one scope, found {scopes}")
            continue
        scope = scopes[0]
        inner = document["properties"][scope]
        yield (
            scope,
            path.name,
            data,
            deriver.schema(WEBHOOK_SPEC, inner, f"callback {scope}"),
        )


def derive_callbacks(
    deriver: Deriver, folder: Path
) -> tuple[JsonObject, list[JsonObject]]:
    """Merge both callback sources, and list the callback files used.

    The spec components describe the envelope well but, for some events (all
    customer events among them), say nothing about ``data``; the per-event
    files describe ``data`` but were generated from samples. Both are
    descriptions of the same payload, so a payload must satisfy both.
    """
    callbacks: JsonObject = dict(spec_callbacks(deriver))
    files: list[JsonObject] = []
    for scope, name, data, schema in file_callbacks(deriver, folder):
        files.append(
            {"path": f"{CALLBACK_UPSTREAM_DIR}/{name}", "blob": git_blob_sha1(data)}
        )
        known = callbacks.get(scope)
        callbacks[scope] = schema if known is None else {"allOf": [known, schema]}
    return callbacks, files


# --- Main -------------------------------------------------------------------


def load_specs(spec_dir: Path) -> tuple[dict[str, JsonObject], list[JsonObject]]:
    """Parse the six spec files, recording each one's upstream blob hash."""
    specs: dict[str, JsonObject] = {}
    files: list[JsonObject] = []
    for local, upstream in SPEC_FILES.items():
        data = (spec_dir / local).read_bytes()
        specs[local] = yaml.safe_load(data)
        files.append({"path": upstream, "blob": git_blob_sha1(data)})
    return specs, files


def check_coverage(operations: Mapping[str, Any], callbacks: Mapping[str, Any]) -> None:
    """Stop if an operation or callback the daemon relies on is missing."""
    missing = [key for key in REQUIRED_OPERATIONS if key not in operations]
    missing += [scope for scope in REQUIRED_CALLBACKS if scope not in callbacks]
    if missing:
        raise SystemExit(f"missing from the specs: {missing}")


def derive(spec_dir: Path) -> JsonObject:
    """Build the whole contract document from the specs in ``spec_dir``."""
    specs, spec_files = load_specs(spec_dir)
    for fix in SPEC_FIXES:
        fix(specs)
    deriver = Deriver(specs)
    operations = derive_operations(deriver)
    callbacks, callback_files = derive_callbacks(deriver, spec_dir / CALLBACK_DIR)
    deriver.drain()
    check_coverage(operations, callbacks)
    for label, part in (
        ("definitions", deriver.definitions),
        ("operations", operations),
        ("callbacks", callbacks),
    ):
        relax_ambiguous_one_of(part, deriver.definitions, label)
    return {
        "$schema": DIALECT,
        "$comment": (
            "Generated by tools/derive_contract.py; do not edit. JSON Schema "
            "draft 7, derived from the BigCommerce OpenAPI specs named in "
            "'source': types and constraints only, no prose. OpenAPI "
            "semantics kept: readOnly properties are not required in requests, "
            "writeOnly ones not in responses."
        ),
        "source": {
            "repository": REPOSITORY,
            "commit": COMMIT,
            "files": spec_files + callback_files,
        },
        "operations": operations,
        "callbacks": callbacks,
        "definitions": deriver.definitions,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_dir", type=Path, help="folder with the spec files")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent.parent
        / "tests"
        / "contract"
        / "bigcommerce.schemas.json",
        help="where to write the contract (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    document = derive(args.spec_dir)
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(
        f"wrote {args.output}: {len(document['operations'])} operations, "
        f"{len(document['callbacks'])} callbacks, "
        f"{len(document['definitions'])} definitions, {len(text)} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
