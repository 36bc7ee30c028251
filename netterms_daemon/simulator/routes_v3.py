"""The v3 API of the simulated store: customers, order metafields, webhooks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from netterms_daemon.simulator.core import SimulatedStore
from netterms_daemon.simulator.replies import (
    array_body,
    fail,
    id_list,
    json_body,
    object_body,
    sort_key,
    v3_one,
    v3_page,
)
from netterms_daemon.simulator.routes_v2 import store_key
from netterms_daemon.simulator.state import Customer, Hook, Metafield

PERMISSION_SETS = (
    "app_only",
    "read",
    "write",
    "read_and_sf_access",
    "write_and_sf_access",
)
MAX_METAFIELDS_PER_ORDER = 250
MAX_CUSTOMERS_PER_CALL = 10


def _store(request: web.Request) -> SimulatedStore:
    return request.app[store_key]


# Customers


async def list_customers(request: web.Request) -> web.Response:
    customers = sorted(_store(request).state.customers.values(), key=lambda c: c.id)
    ids = id_list(request, "id:in")
    groups = id_list(request, "customer_group_id:in")
    emails = request.query.get("email:in")
    like = request.query.get("name:like")
    if ids is not None:
        customers = [c for c in customers if c.id in ids]
    if groups is not None:
        customers = [c for c in customers if c.customer_group_id in groups]
    if emails:
        wanted = {e.strip().lower() for e in emails.split(",")}
        customers = [c for c in customers if c.email.lower() in wanted]
    if like:
        customers = [
            c
            for c in customers
            if like.lower() in f"{c.first_name} {c.last_name}".lower()
        ]

    field, descending = sort_key(
        request, ("date_created", "date_modified", "last_name", "id"), "id"
    )
    customers.sort(key=lambda c: (_customer_sort(c, field), c.id), reverse=descending)
    return v3_page(request, customers, Customer.render)


def _customer_sort(customer: Customer, field: str) -> Any:
    return {
        "date_created": customer.created,
        "date_modified": customer.modified,
        "last_name": customer.last_name,
        "id": customer.id,
    }[field]


async def create_customers(request: web.Request) -> web.Response:
    store = _store(request)
    items = array_body(await json_body(request), MAX_CUSTOMERS_PER_CALL)
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"{index}"] = "must be an object"
            continue
        for name in ("email", "first_name", "last_name"):
            if not isinstance(item.get(name), str) or not item[name]:
                errors[f"{index}.{name}"] = "is required"
        taken = {c.email.lower() for c in store.state.customers.values()}
        if isinstance(item.get("email"), str) and item["email"].lower() in taken:
            errors[f"{index}.email"] = "already in use"
        group = item.get("customer_group_id", 0)
        if group and group not in store.state.groups:
            errors[f"{index}.customer_group_id"] = "no such group"
    if errors:
        fail(422, "The customers could not be created.", errors)

    made = [
        store.add_customer(
            item["email"],
            item["first_name"],
            item["last_name"],
            int(item.get("customer_group_id") or 0),
            str(item.get("company") or ""),
        )
        for item in items
    ]
    return web.json_response({"data": [c.render() for c in made], "meta": {}})


async def update_customers(request: web.Request) -> web.Response:
    store = _store(request)
    items = array_body(await json_body(request), MAX_CUSTOMERS_PER_CALL)
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("id") not in store.state.customers:
            errors[f"{index}.id"] = "no such customer"
        elif item.get("customer_group_id", 0) not in (0, *store.state.groups):
            errors[f"{index}.customer_group_id"] = "no such group"
    if errors:
        fail(422, "The customers could not be updated.", errors)

    changed = []
    for item in items:
        customer = store.state.customers[item["id"]]
        for name in (
            "email",
            "first_name",
            "last_name",
            "company",
            "phone",
            "customer_group_id",
        ):
            if name in item:
                setattr(customer, name, item[name])
        customer.modified = store.clock.now()
        store.emit("store/customer/updated", {"type": "customer", "id": customer.id})
        changed.append(customer)
    return web.json_response({"data": [c.render() for c in changed], "meta": {}})


# Order metafields


def _order_id(request: web.Request) -> int:
    order_id = int(request.match_info["order_id"])
    if order_id not in _store(request).state.orders:
        fail(404, f"Order {order_id} not found.")
    return order_id


def _metafield_filter(request: web.Request, fields: list[Metafield]) -> list[Metafield]:
    for name in ("namespace", "key"):
        wanted = request.query.get(name)
        if wanted is not None:
            fields = [m for m in fields if getattr(m, name) == wanted]
        listed = request.query.get(f"{name}:in")
        if listed is not None:
            allowed = set(listed.split(","))
            fields = [m for m in fields if getattr(m, name) in allowed]
    return sorted(fields, key=lambda m: m.id)


async def list_order_metafields(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    fields = _store(request).state.metafields_of(order_id)
    return v3_page(request, _metafield_filter(request, fields), Metafield.render)


async def list_all_order_metafields(request: web.Request) -> web.Response:
    fields = list(_store(request).state.metafields.values())
    return v3_page(request, _metafield_filter(request, fields), Metafield.render)


def _check_metafield(store: SimulatedStore, order_id: int, item: Any) -> dict[str, str]:
    """Problems with a metafield to create, by field name."""
    if not isinstance(item, dict):
        return {"body": "must be an object"}
    errors = {}
    for name, most in (("namespace", 64), ("key", 64), ("value", 65535)):
        value = item.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= most:
            errors[name] = f"must be text of 1 to {most} characters"
    if item.get("permission_set") not in PERMISSION_SETS:
        errors["permission_set"] = f"must be one of {', '.join(PERMISSION_SETS)}"
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > 255:
        errors["description"] = "must be text of at most 255 characters"
    return errors


def _duplicate(store: SimulatedStore, order_id: int, item: dict[str, Any]) -> bool:
    return any(
        (m.namespace, m.key) == (item.get("namespace"), item.get("key"))
        for m in store.state.metafields_of(order_id)
    )


def _make_metafield(
    store: SimulatedStore, order_id: int, item: dict[str, Any]
) -> Metafield:
    now = store.clock.now()
    field = Metafield(
        id=store.state.next_id("metafield"),
        order_id=order_id,
        namespace=item["namespace"],
        key=item["key"],
        value=item["value"],
        permission_set=item["permission_set"],
        description=str(item.get("description", "")),
        created=now,
        modified=now,
        owner_client_id=store.state.client_id,
    )
    store.state.add_metafield(field)
    store.emit(
        "store/order/metafield/created",
        {"metafield_id": field.id, "resource_id": str(order_id)},
    )
    return field


def _room_for(store: SimulatedStore, order_id: int, adding: int) -> bool:
    held = len(store.state.metafields_of(order_id))
    return held + adding <= MAX_METAFIELDS_PER_ORDER


async def create_order_metafield(request: web.Request) -> web.Response:
    store = _store(request)
    order_id = _order_id(request)
    item = object_body(await json_body(request))
    errors = _check_metafield(store, order_id, item)
    if errors:
        fail(422, "The metafield is not valid.", errors)
    if _duplicate(store, order_id, item):
        fail(
            409,
            "A metafield with this namespace and key already exists for this order.",
        )
    if not _room_for(store, order_id, 1):
        fail(422, f"An order holds at most {MAX_METAFIELDS_PER_ORDER} metafields.")
    return v3_one(_make_metafield(store, order_id, item).render())


def _metafield(request: web.Request) -> Metafield:
    order_id = _order_id(request)
    field = _store(request).state.metafields.get(
        int(request.match_info["metafield_id"])
    )
    if field is None or field.order_id != order_id:
        fail(404, "Metafield not found.")
    return field


async def get_order_metafield(request: web.Request) -> web.Response:
    return v3_one(_metafield(request).render())


def _apply_update(
    store: SimulatedStore, field: Metafield, item: dict[str, Any]
) -> dict[str, str]:
    errors = {}
    if "value" in item and (
        not isinstance(item["value"], str) or not 1 <= len(item["value"]) <= 65535
    ):
        errors["value"] = "must be text of 1 to 65535 characters"
    if "permission_set" in item and item["permission_set"] not in PERMISSION_SETS:
        errors["permission_set"] = f"must be one of {', '.join(PERMISSION_SETS)}"
    if errors:
        return errors
    for name in ("value", "permission_set", "description", "namespace", "key"):
        if name in item:
            setattr(field, name, str(item[name]))
    field.modified = store.clock.now()
    store.emit(
        "store/order/metafield/updated",
        {"metafield_id": field.id, "resource_id": str(field.order_id)},
    )
    return {}


async def update_order_metafield(request: web.Request) -> web.Response:
    store = _store(request)
    field = _metafield(request)
    errors = _apply_update(store, field, object_body(await json_body(request)))
    if errors:
        fail(422, "The metafield is not valid.", errors)
    return v3_one(field.render())


async def delete_order_metafield(request: web.Request) -> web.Response:
    store = _store(request)
    field = _metafield(request)
    store.state.remove_metafield(field.id)
    store.emit(
        "store/order/metafield/deleted",
        {"metafield_id": field.id, "resource_id": str(field.order_id)},
    )
    return web.Response(status=204)


def _batch_reply(done: list[Metafield], errors: list[dict[str, Any]]) -> web.Response:
    meta = {
        "total": len(done) + len(errors),
        "success": len(done),
        "failed": len(errors),
    }
    body = {"data": [m.render() for m in done], "errors": errors, "meta": meta}
    return web.json_response(body, status=422 if errors else 200)


async def create_metafields_batch(request: web.Request) -> web.Response:
    store = _store(request)
    done: list[Metafield] = []
    errors: list[dict[str, Any]] = []
    for item in array_body(await json_body(request)):
        raw_id = item.get("resource_id") if isinstance(item, dict) else None
        order_id = raw_id if isinstance(raw_id, int) else -1
        problems = (
            {"resource_id": "no such order"}
            if order_id not in store.state.orders
            else _check_metafield(store, order_id, item)
        )
        if not problems and _duplicate(store, order_id, item):
            problems = {"key": "already exists for this order"}
        if not problems and not _room_for(store, order_id, 1):
            problems = {
                "resource_id": f"holds {MAX_METAFIELDS_PER_ORDER} metafields already"
            }
        if problems:
            errors.append(
                {
                    "status": 422,
                    "title": "Invalid metafield",
                    "type": "",
                    "errors": problems,
                }
            )
            continue
        done.append(_make_metafield(store, order_id, item))
    return _batch_reply(done, errors)


async def update_metafields_batch(request: web.Request) -> web.Response:
    store = _store(request)
    done: list[Metafield] = []
    errors: list[dict[str, Any]] = []
    for item in array_body(await json_body(request)):
        raw_id = item.get("id") if isinstance(item, dict) else None
        field = store.state.metafields.get(raw_id) if isinstance(raw_id, int) else None
        problems = {"id": "no such metafield"} if field is None else {}
        if field is not None and isinstance(item, dict):
            problems = _apply_update(store, field, item)
        if problems or field is None:
            errors.append(
                {
                    "status": 422,
                    "title": "Invalid metafield",
                    "type": "",
                    "errors": problems,
                }
            )
            continue
        done.append(field)
    return _batch_reply(done, errors)


async def delete_metafields_batch(request: web.Request) -> web.Response:
    store = _store(request)
    ids = array_body(await json_body(request))
    deleted: list[int] = []
    errors: list[dict[str, Any]] = []
    for metafield_id in ids:
        field = (
            store.state.remove_metafield(metafield_id)
            if isinstance(metafield_id, int)
            else None
        )
        if field is None:
            errors.append(
                {
                    "status": 422,
                    "title": f"Metafield {metafield_id} does not exist",
                    "type": "",
                    "errors": {"id": "no such metafield"},
                }
            )
            continue
        deleted.append(metafield_id)
        store.emit(
            "store/order/metafield/deleted",
            {"metafield_id": field.id, "resource_id": str(field.order_id)},
        )
    meta = {"total": len(ids), "success": len(deleted), "failed": len(errors)}
    status = 422 if errors else 200
    return web.json_response(
        {"data": deleted, "errors": errors, "meta": meta}, status=status
    )


# Webhooks


def _hook(request: web.Request) -> Hook:
    hook = _store(request).state.hooks.get(int(request.match_info["webhook_id"]))
    if hook is None:
        fail(404, "Webhook not found.")
    return hook


def _render_hook(store: SimulatedStore, hook: Hook) -> dict[str, Any]:
    return hook.render(store.state.store_hash, store.state.client_id)


def _check_hook_fields(body: dict[str, Any], *, creating: bool) -> dict[str, str]:
    errors = {}
    for name in ("scope", "destination"):
        if name in body or creating:
            value = body.get(name)
            if not isinstance(value, str) or not value:
                errors[name] = "is required" if creating else "must be text"
    destination = body.get("destination")
    if isinstance(destination, str) and not destination.startswith(
        ("http://", "https://")
    ):
        errors["destination"] = "must be an http(s) URL"
    headers = body.get("headers")
    if headers is not None and (
        not isinstance(headers, dict)
        or not all(isinstance(v, str) for v in headers.values())
    ):
        errors["headers"] = "must map header names to text"
    if "is_active" in body and not isinstance(body["is_active"], bool):
        errors["is_active"] = "must be true or false"
    return errors


async def list_hooks(request: web.Request) -> web.Response:
    store = _store(request)
    hooks = sorted(store.state.hooks.values(), key=lambda h: h.id)
    for name in ("scope", "destination"):
        wanted = request.query.get(name)
        if wanted is not None:
            hooks = [h for h in hooks if getattr(h, name) == wanted]
    active = request.query.get("is_active")
    if active is not None:
        hooks = [h for h in hooks if h.is_active == (active == "true")]
    return v3_page(request, hooks, lambda h: _render_hook(store, h))


async def create_hook(request: web.Request) -> web.Response:
    store = _store(request)
    body = object_body(await json_body(request))
    errors = _check_hook_fields(body, creating=True)
    if errors:
        fail(422, "The webhook is not valid.", errors)
    same = [
        h
        for h in store.state.hooks.values()
        if (h.scope, h.destination) == (body["scope"], body["destination"])
    ]
    if same:
        fail(
            422,
            "A webhook for this scope and destination already exists.",
            {"scope": "taken"},
        )

    now = store.clock.now()
    hook = Hook(
        id=store.state.next_id("hook"),
        scope=body["scope"],
        destination=body["destination"],
        is_active=body.get("is_active", True),
        headers=dict(body.get("headers") or {}),
        created=now,
        modified=now,
    )
    store.state.hooks[hook.id] = hook
    return v3_one(_render_hook(store, hook))


async def get_hook(request: web.Request) -> web.Response:
    return v3_one(_render_hook(_store(request), _hook(request)))


async def update_hook(request: web.Request) -> web.Response:
    store = _store(request)
    hook = _hook(request)
    body = object_body(await json_body(request))
    if not body.keys() & {"scope", "destination", "is_active", "headers"}:
        fail(422, "Send at least one of scope, destination, is_active, headers.")
    errors = _check_hook_fields(body, creating=False)
    if errors:
        fail(422, "The webhook is not valid.", errors)
    for name in ("scope", "destination", "headers"):
        if name in body:
            setattr(
                hook, name, body[name] if name != "headers" else dict(body[name] or {})
            )
    if "is_active" in body:
        hook.is_active = body["is_active"]
        if hook.is_active:
            hook.deactivated = False
    hook.modified = store.clock.now()
    return v3_one(_render_hook(store, hook))


async def delete_hook(request: web.Request) -> web.Response:
    store = _store(request)
    hook = _hook(request)
    del store.state.hooks[hook.id]
    return v3_one(_render_hook(store, hook))


async def hooks_admin(request: web.Request) -> web.Response:
    store = _store(request)
    hooks = sorted(store.state.hooks.values(), key=lambda h: h.id)
    active = request.query.get("is_active")
    if active is not None:
        hooks = [h for h in hooks if h.is_active == (active == "true")]
    data = {
        "emails": list(store.state.admin_emails),
        "hooks_list": [{**_render_hook(store, h), "status": h.status} for h in hooks],
        "blocked_domains": store.webhooks.blocked_domains(),
    }
    return web.json_response({"data": data, "meta": {}})


async def update_hooks_admin(request: web.Request) -> web.Response:
    store = _store(request)
    body = object_body(await json_body(request))
    emails = body.get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        fail(422, "emails must be a list of addresses.", {"emails": "invalid"})
    store.state.admin_emails = list(emails)
    return web.Response(status=204)


def add_routes(app: web.Application, root: str) -> None:
    """Register the v3 routes under /stores/{hash}/v3."""
    v3 = f"{root}/v3"
    app.router.add_get(f"{v3}/customers", list_customers)
    app.router.add_post(f"{v3}/customers", create_customers)
    app.router.add_put(f"{v3}/customers", update_customers)
    app.router.add_get(f"{v3}/orders/metafields", list_all_order_metafields)
    app.router.add_post(f"{v3}/orders/metafields", create_metafields_batch)
    app.router.add_put(f"{v3}/orders/metafields", update_metafields_batch)
    app.router.add_delete(f"{v3}/orders/metafields", delete_metafields_batch)
    order = rf"{v3}/orders/{{order_id:\d+}}/metafields"
    app.router.add_get(order, list_order_metafields)
    app.router.add_post(order, create_order_metafield)
    one = order + r"/{metafield_id:\d+}"
    app.router.add_get(one, get_order_metafield)
    app.router.add_put(one, update_order_metafield)
    app.router.add_delete(one, delete_order_metafield)
    app.router.add_get(f"{v3}/hooks", list_hooks)
    app.router.add_post(f"{v3}/hooks", create_hook)
    app.router.add_get(f"{v3}/hooks/admin", hooks_admin)
    app.router.add_put(f"{v3}/hooks/admin", update_hooks_admin)
    hook = rf"{v3}/hooks/{{webhook_id:\d+}}"
    app.router.add_get(hook, get_hook)
    app.router.add_put(hook, update_hook)
    app.router.add_delete(hook, delete_hook)
