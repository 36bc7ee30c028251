"""The contract checker itself: it must pass what the specs allow and fail the rest.

Contract tests are only worth something if the checker can fail, so each rule
is shown both ways here, on hand-written traffic (none of it comes from the
specs' examples).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator

from tests.contract.contract import (
    CONTRACT_PATH,
    Contract,
    ContractViolation,
    load_contract,
)

# Operations and webhook scopes the daemon uses; the committed file must keep them.
DAEMON_OPERATIONS = (
    "GET /v2/customer_groups",
    "POST /v2/customer_groups",
    "GET /v2/customer_groups/{customer_group_id}",
    "PUT /v2/customer_groups/{customer_group_id}",
    "DELETE /v2/customer_groups/{customer_group_id}",
    "GET /v2/orders",
    "GET /v2/orders/{order_id}",
    "PUT /v2/orders/{order_id}",
    "GET /v2/order_statuses",
    "GET /v2/store",
    "GET /v2/time",
    "GET /v3/customers",
    "GET /v3/orders/{order_id}/metafields",
    "POST /v3/orders/{order_id}/metafields",
    "PUT /v3/orders/{order_id}/metafields/{metafield_id}",
    "DELETE /v3/orders/{order_id}/metafields/{metafield_id}",
    "GET /v3/orders/metafields",
    "GET /v3/hooks",
    "POST /v3/hooks",
    "GET /v3/hooks/{webhook_id}",
    "PUT /v3/hooks/{webhook_id}",
    "DELETE /v3/hooks/{webhook_id}",
    "GET /v3/hooks/admin",
    "PUT /v3/hooks/admin",
)
DAEMON_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/customer/created",
    "store/customer/updated",
    "store/customer/deleted",
)
PROSE_KEYWORDS = frozenset(
    ("description", "summary", "example", "examples", "title", "externalDocs")
)


@pytest.fixture
def contract() -> Contract:
    """The committed contract, as the real contract tests load it."""
    return load_contract()


def an_order() -> dict[str, Any]:
    """A plausible V2 order as BigCommerce returns it, written by hand."""
    return {
        "id": 1,
        "customer_id": 42,
        "date_created": "Mon, 04 Mar 2024 09:15:00 +0000",
        "date_modified": "Tue, 05 Mar 2024 11:00:00 +0000",
        "date_shipped": "",
        "status_id": 7,
        "status": "Awaiting Payment",
        "subtotal_ex_tax": "250.0000",
        "subtotal_inc_tax": "275.0000",
        "subtotal_tax": "25.0000",
        "total_ex_tax": "250.0000",
        "total_inc_tax": "275.0000",
        "total_tax": "25.0000",
        "items_total": 3,
        "items_shipped": 0,
        "payment_method": "Net 30",
        "payment_provider_id": "",
        "payment_status": "",
        "refunded_amount": "0.0000",
        "currency_id": 1,
        "currency_code": "EUR",
        "default_currency_code": "EUR",
        "is_deleted": False,
        "order_is_digital": False,
        "staff_notes": "terms: net 30",
        "channel_id": 1,
        "external_source": None,
        "external_id": None,
        "billing_address": {
            "first_name": "Grace",
            "last_name": "Hopper",
            "company": "Compiler GmbH",
            "street_1": "Hauptstrasse 1",
            "city": "Berlin",
            "zip": "10115",
            "country": "Germany",
            "country_iso2": "DE",
            "email": "grace@example.test",
        },
        "products": {
            "url": "https://api.bigcommerce.com/stores/s1/v2/orders/1/products",
            "resource": "/orders/1/products",
        },
    }


def a_status_update(new_status_id: object) -> dict[str, Any]:
    """A store/order/statusUpdated delivery, written by hand."""
    return {
        "scope": "store/order/statusUpdated",
        "store_id": "1001",
        "producer": "stores/s1",
        "hash": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4",
        "created_at": 1709550000,
        "data": {
            "type": "order",
            "id": 1,
            "status": {"previous_status_id": 1, "new_status_id": new_status_id},
        },
    }


def schema_nodes(node: object) -> Iterator[dict[str, Any]]:
    """Every schema object in the document, not counting property-name maps."""
    if isinstance(node, list):
        for item in node:
            yield from schema_nodes(item)
    elif isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    yield from schema_nodes(sub)
            elif key not in ("enum", "default"):
                yield from schema_nodes(value)


# --- Requests ---------------------------------------------------------------


def test_valid_order_update_passes(contract: Contract) -> None:
    """A PUT /v2/orders/7 with a status and staff notes is allowed."""
    contract.validate_request(
        "PUT", "/v2/orders/7", None, {"status_id": 7, "staff_notes": "x"}
    )


def test_order_update_with_text_status_fails(contract: Contract) -> None:
    """A status_id given as a word is not an integer."""
    with pytest.raises(ContractViolation, match=r"PUT /v2/orders/\{order_id\}"):
        contract.validate_request("PUT", "/v2/orders/7", None, {"status_id": "seven"})


def test_unknown_query_parameter_fails(contract: Contract) -> None:
    """GET /v2/orders rejects a query parameter the spec does not declare."""
    with pytest.raises(ContractViolation, match="unknown query parameter 'colour'"):
        contract.validate_request("GET", "/v2/orders", {"colour": "red"}, None)


def test_non_numeric_limit_fails(contract: Contract) -> None:
    """limit=abc is not a number."""
    with pytest.raises(ContractViolation, match="'limit'"):
        contract.validate_request("GET", "/v2/orders", {"limit": "abc"}, None)


def test_declared_query_parameters_pass(contract: Contract) -> None:
    """Typed, enumerated and comma-separated array parameters are accepted."""
    contract.validate_request(
        "GET",
        "https://api.bigcommerce.com/stores/s1/v2/orders?page=2",
        {"limit": "250", "sort": "date_modified", "min_date_modified": "2024-03-04"},
        None,
    )
    contract.validate_request(
        "GET", "/v3/customers", {"id:in": "1,2,3", "include": "addresses"}, None
    )
    contract.validate_request(
        "GET", "/v3/orders/5/metafields", {"include_fields": "key,value"}, None
    )


def test_sort_takes_a_direction(contract: Contract) -> None:
    """GET /v2/orders accepts sort=field:asc, as the spec's prose says it does."""
    contract.validate_request("GET", "/v2/orders", {"sort": "date_modified:asc"}, None)
    with pytest.raises(ContractViolation, match="'sort'"):
        contract.validate_request("GET", "/v2/orders", {"sort": "id:up"}, None)


def test_query_value_outside_enum_fails(contract: Contract) -> None:
    """An enumerated parameter rejects a value outside its enum."""
    with pytest.raises(ContractViolation, match="is not one of"):
        contract.validate_request("GET", "/v2/orders", {"sort": "colour"}, None)


def test_array_parameter_items_are_typed(contract: Contract) -> None:
    """Each comma-separated item of an integer array must be an integer."""
    with pytest.raises(ContractViolation, match="not an integer"):
        contract.validate_request("GET", "/v3/customers", {"id:in": "1,two"}, None)


def test_missing_required_query_parameter_fails(contract: Contract) -> None:
    """DELETE /v3/customers needs id:in."""
    with pytest.raises(ContractViolation, match="missing required query"):
        contract.validate_request("DELETE", "/v3/customers", None, None)


def test_non_integer_path_parameter_fails(contract: Contract) -> None:
    """An order id must be an integer."""
    with pytest.raises(ContractViolation, match="'order_id'='abc'"):
        contract.validate_request("GET", "/v2/orders/abc", None, None)


def test_path_parameter_minimum_is_checked(contract: Contract) -> None:
    """Webhook ids start at 1."""
    with pytest.raises(ContractViolation, match="minimum"):
        contract.validate_request("GET", "/v3/hooks/0", None, None)


def test_body_where_none_is_allowed_fails(contract: Contract) -> None:
    """GET /v2/store takes no body."""
    with pytest.raises(ContractViolation, match="takes no request body"):
        contract.validate_request("GET", "/v2/store", None, {"x": 1})


def test_missing_required_body_fails(contract: Contract) -> None:
    """POST /v2/orders needs a body."""
    with pytest.raises(ContractViolation, match="request body is required"):
        contract.validate_request("POST", "/v2/orders", None, None)


def test_webhook_creation_needs_destination(contract: Contract) -> None:
    """POST /v3/hooks passes with scope and destination and fails without one."""
    body = {"scope": "store/order/*", "destination": "https://d.test/hooks"}
    contract.validate_request("POST", "/v3/hooks", None, body)
    with pytest.raises(ContractViolation, match="'destination' is a required"):
        contract.validate_request("POST", "/v3/hooks", None, {"scope": "x"})


def test_metafield_update_may_send_only_the_value(contract: Contract) -> None:
    """Order metafield PUTs may be partial; the batch form still needs ids."""
    path = "/v3/orders/1/metafields/9"
    contract.validate_request("PUT", path, None, {"value": "net60"})
    batch = [{"id": 9, "value": "net60"}]
    contract.validate_request("PUT", "/v3/orders/metafields", None, batch)
    with pytest.raises(ContractViolation, match="'id' is a required"):
        contract.validate_request(
            "PUT", "/v3/orders/metafields", None, [{"value": "net60"}]
        )


def test_metafield_creation_needs_all_fields(contract: Contract) -> None:
    """POST /v3/orders/{id}/metafields requires key, value, namespace, permission."""
    body = {"key": "terms", "value": "net30", "namespace": "netterms"}
    with pytest.raises(ContractViolation, match="'permission_set' is a required"):
        contract.validate_request("POST", "/v3/orders/1/metafields", None, body)
    body["permission_set"] = "app_only"
    contract.validate_request("POST", "/v3/orders/1/metafields", None, body)


def test_raw_json_text_body_is_parsed(contract: Contract) -> None:
    """A body given as JSON text or bytes is checked like decoded data."""
    contract.validate_request("PUT", "/v2/orders/7", None, b'{"status_id": 7}')
    with pytest.raises(ContractViolation, match="not of type 'integer'"):
        contract.validate_request("PUT", "/v2/orders/7", None, '{"status_id": "7"}')


# --- Matching ---------------------------------------------------------------


def test_unknown_path_fails(contract: Contract) -> None:
    """A path no spec declares is a violation."""
    with pytest.raises(ContractViolation, match="no such path"):
        contract.operation_for("GET", "/v2/invoices/3")


def test_undeclared_method_fails(contract: Contract) -> None:
    """A known path with an undeclared method is a violation."""
    with pytest.raises(ContractViolation, match="method not in the specs"):
        contract.operation_for("POST", "/v2/store")


def test_operation_for_strips_host_and_store_prefix(contract: Contract) -> None:
    """Full API URLs and /stores/{hash} prefixes map to the spec's template."""
    url = "https://api.bigcommerce.com/stores/s1/v3/hooks/12?x=1"
    assert contract.operation_for("get", url) == "GET /v3/hooks/{webhook_id}"
    assert contract.operation_for("GET", "/stores/s1/v2/time") == "GET /v2/time"


def test_literal_segment_beats_parameter(contract: Contract) -> None:
    """/v2/orders/count is its own operation, not an order called 'count'."""
    assert contract.operation_for("GET", "/v2/orders/count") == "GET /v2/orders/count"
    assert (
        contract.operation_for("GET", "/v3/orders/metafields")
        == "GET /v3/orders/metafields"
    )


# --- Responses --------------------------------------------------------------


def test_valid_order_response_passes(contract: Contract) -> None:
    """A hand-written order passes GET /v2/orders/1 and, as a list, GET /v2/orders."""
    contract.validate_response("GET", "/v2/orders/1", 200, an_order())
    contract.validate_response("GET", "/v2/orders", 200, [an_order()])


def test_mistyped_order_response_fails(contract: Contract) -> None:
    """Order money fields are decimal strings, not numbers."""
    order = an_order() | {"total_inc_tax": 275.0}
    with pytest.raises(ContractViolation, match=r"\$\.total_inc_tax"):
        contract.validate_response("GET", "/v2/orders/1", 200, order)


def test_response_missing_required_field_fails(contract: Contract) -> None:
    """An order metafield without its required permission_set is rejected."""
    # V2 order schemas declare no required fields, so a V3 metafield is used.
    metafield = {
        "id": 9,
        "key": "payment_terms",
        "value": "net30",
        "namespace": "netterms",
        "permission_set": "app_only",
        "resource_type": "order",
        "resource_id": 1,
    }
    path = "/v3/orders/1/metafields/9"
    contract.validate_response("GET", path, 200, {"data": metafield, "meta": {}})
    del metafield["permission_set"]
    with pytest.raises(ContractViolation, match="'permission_set' is a required"):
        contract.validate_response("GET", path, 200, {"data": metafield, "meta": {}})


def test_204_with_body_fails(contract: Contract) -> None:
    """DELETE /v2/orders/1 answers 204 without a body."""
    contract.validate_response("DELETE", "/v2/orders/1", 204, None)
    contract.validate_response("DELETE", "/v2/orders/1", 204, b"")
    with pytest.raises(ContractViolation, match="declared without a body"):
        contract.validate_response("DELETE", "/v2/orders/1", 204, {"id": 1})


def test_undeclared_success_status_fails(contract: Contract) -> None:
    """A 2xx the spec does not list for the operation is a violation."""
    with pytest.raises(ContractViolation, match="status not declared"):
        contract.validate_response("DELETE", "/v2/orders/1", 200, None)


def test_empty_v2_list_page_is_a_bodiless_204(contract: Contract) -> None:
    """A V2 list past its last page answers 204 with no body."""
    contract.validate_response("GET", "/v2/orders?page=9", 204, None)
    with pytest.raises(ContractViolation, match="declared without a body"):
        contract.validate_response("GET", "/v2/orders", 204, [])


def test_undeclared_error_status_is_not_checked(contract: Contract) -> None:
    """An error status without a schema is accepted whatever its body."""
    contract.validate_response("DELETE", "/v2/orders/1", 429, "<html>slow down</html>")


def test_customer_group_without_discount_rules_passes(contract: Contract) -> None:
    """An empty discount_rules list passes despite the spec's overlapping oneOf."""
    group = {
        "id": 4,
        "name": "Net 30",
        "is_default": False,
        "category_access": {"type": "all"},
        "discount_rules": [],
    }
    contract.validate_response("GET", "/v2/customer_groups/4", 200, group)
    contract.validate_request(
        "PUT", "/v2/customer_groups/4", None, {"name": "Net 30", "discount_rules": []}
    )


# --- Callbacks --------------------------------------------------------------


def test_status_updated_callback_passes(contract: Contract) -> None:
    """A hand-written store/order/statusUpdated delivery is allowed."""
    contract.validate_callback(a_status_update(11))


def test_status_updated_callback_with_text_status_fails(contract: Contract) -> None:
    """data.status.new_status_id must be an integer."""
    with pytest.raises(ContractViolation, match=r"new_status_id"):
        contract.validate_callback(a_status_update("11"))


def test_unknown_callback_scope_fails(contract: Contract) -> None:
    """A scope BigCommerce does not send is a violation."""
    with pytest.raises(ContractViolation, match="unknown scope"):
        contract.validate_callback({"scope": "store/invoice/created"})


# --- OpenAPI semantics, on a tiny hand-made contract ------------------------


def tiny_contract() -> Contract:
    """One operation whose request and response share a schema with readOnly id."""
    record = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string"},
        },
        "required": ["id", "name"],
    }
    operation = {
        "path": {},
        "query": {},
        "request_body": {"$ref": "#/definitions/t:record"},
        "request_body_required": True,
        "responses": {"200": {"$ref": "#/definitions/t:record"}},
    }
    return Contract(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "operations": {"POST /v3/things": operation},
            "callbacks": {},
            "definitions": {"t:record": record},
        }
    )


def test_read_only_required_property_may_be_absent_from_requests() -> None:
    """OpenAPI excuses a required readOnly property in a request only."""
    tiny = tiny_contract()
    tiny.validate_request("POST", "/v3/things", None, {"name": "a"})
    tiny.validate_request("POST", "/v3/things", None, {"id": 1, "name": "a"})
    with pytest.raises(ContractViolation, match="'id' is a required"):
        tiny.validate_response("POST", "/v3/things", 200, {"name": "a"})


# --- The committed file -----------------------------------------------------


def test_contract_file_is_a_valid_draft7_document() -> None:
    """The whole file, definitions included, is a well-formed draft 7 schema."""
    document = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    assert document["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(document)
    assert document["source"]["repository"] == "bigcommerce/docs"
    assert document["source"]["commit"] == "24f580ca6d2981728b7ed70a2049e00fc602c335"


def test_contract_file_carries_no_spec_prose() -> None:
    """No description, example or title from the specs made it into the file."""
    document = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    parts = (document["operations"], document["callbacks"], document["definitions"])
    found = {
        key
        for part in parts
        for node in schema_nodes(part)
        for key in node
        if key in PROSE_KEYWORDS or key.startswith("x-")
    }
    assert not found


@pytest.mark.parametrize("key", DAEMON_OPERATIONS)
def test_daemon_operation_is_in_the_contract(contract: Contract, key: str) -> None:
    """Each operation the daemon calls is in the contract."""
    assert key in contract.operations


@pytest.mark.parametrize("scope", DAEMON_SCOPES)
def test_daemon_callback_is_in_the_contract(contract: Contract, scope: str) -> None:
    """Each webhook scope the daemon handles has a payload schema."""
    assert scope in contract.callbacks
