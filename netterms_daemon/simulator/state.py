"""The simulated store's data, in memory, and how BigCommerce renders it.

Field names, types and formats follow BigCommerce's API: v2 dates are
RFC 2822 in UTC, money is a 4-decimal string, v3 dates are ISO 8601, hook
times are Unix seconds. What happens to the data (events, paging, filters)
lives in the route modules; this one only holds and renders it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from netterms_daemon.bigcommerce.models import STATUS_NAMES, format_rfc2822

JSON = dict[str, Any]


def amount(value: Decimal) -> str:
    """Money as BigCommerce writes it: a string with four decimals."""
    return f"{value.quantize(Decimal('0.0001'))}"


def iso(value: datetime) -> str:
    """A v3 date."""
    return value.isoformat(timespec="seconds")


@dataclass
class CustomerGroup:
    id: int
    name: str
    created: datetime
    modified: datetime
    is_default: bool = False

    def render(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "is_default": self.is_default,
            "is_group_for_guests": False,
            "category_access": {"type": "all"},
            "discount_rules": [],
            "date_created": self.created.strftime("%Y-%m-%d %H:%M:%S"),
            "date_modified": self.modified.strftime("%Y-%m-%d %H:%M:%S"),
        }


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    created: datetime
    modified: datetime
    company: str = ""
    phone: str = ""
    customer_group_id: int = 0

    def render(self) -> JSON:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "phone": self.phone,
            "notes": "",
            "customer_group_id": self.customer_group_id,
            "tax_exempt_category": "",
            "registration_ip_address": "",
            "date_created": iso(self.created),
            "date_modified": iso(self.modified),
            "address_count": 0,
            "attribute_count": 0,
            "accepts_product_review_abandoned_cart_emails": False,
            "origin_channel_id": 1,
            "channel_ids": [1],
        }


@dataclass
class Order:
    id: int
    customer_id: int
    status_id: int
    created: datetime
    modified: datetime
    subtotal_ex_tax: Decimal
    subtotal_inc_tax: Decimal
    currency: str
    items_total: int
    billing_address: JSON
    staff_notes: str = ""
    customer_message: str = ""
    payment_method: str = "Manual"
    is_deleted: bool = False

    @property
    def total_inc_tax(self) -> Decimal:
        return self.subtotal_inc_tax

    def render(self, root: str) -> JSON:
        zero = amount(Decimal(0))
        tax = amount(self.subtotal_inc_tax - self.subtotal_ex_tax)
        link = f"{root}/v2/orders/{self.id}"
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "date_created": format_rfc2822(self.created),
            "date_modified": format_rfc2822(self.modified),
            "date_shipped": "",
            "status_id": self.status_id,
            "status": STATUS_NAMES[self.status_id],
            "custom_status": STATUS_NAMES[self.status_id],
            "subtotal_ex_tax": amount(self.subtotal_ex_tax),
            "subtotal_inc_tax": amount(self.subtotal_inc_tax),
            "subtotal_tax": tax,
            "base_shipping_cost": zero,
            "shipping_cost_ex_tax": zero,
            "shipping_cost_inc_tax": zero,
            "shipping_cost_tax": zero,
            "shipping_cost_tax_class_id": 0,
            "base_handling_cost": zero,
            "handling_cost_ex_tax": zero,
            "handling_cost_inc_tax": zero,
            "handling_cost_tax": zero,
            "handling_cost_tax_class_id": 0,
            "base_wrapping_cost": zero,
            "wrapping_cost_ex_tax": zero,
            "wrapping_cost_inc_tax": zero,
            "wrapping_cost_tax": zero,
            "wrapping_cost_tax_class_id": 0,
            "total_ex_tax": amount(self.subtotal_ex_tax),
            "total_inc_tax": amount(self.subtotal_inc_tax),
            "total_tax": tax,
            "items_total": self.items_total,
            "items_shipped": 0,
            "payment_method": self.payment_method,
            "payment_provider_id": "",
            "payment_status": "",
            "refunded_amount": zero,
            "order_is_digital": False,
            "store_credit_amount": zero,
            "gift_certificate_amount": zero,
            "ip_address": "",
            "ip_address_v6": "",
            "geoip_country": "",
            "geoip_country_iso2": "",
            "currency_id": 1,
            "currency_code": self.currency,
            "currency_exchange_rate": "1.0000000000",
            "default_currency_id": 1,
            "default_currency_code": self.currency,
            "store_default_currency_code": self.currency,
            "store_default_to_transactional_exchange_rate": "1.0000000000",
            "staff_notes": self.staff_notes,
            "customer_message": self.customer_message,
            "discount_amount": zero,
            "coupon_discount": zero,
            "shipping_address_count": 1,
            "is_deleted": self.is_deleted,
            "ebay_order_id": "0",
            "cart_id": "",
            "billing_address": self.billing_address,
            "is_email_opt_in": False,
            "order_source": "manual",
            "channel_id": 1,
            "external_source": None,
            "external_id": None,
            "external_merchant_id": None,
            "external_order_id": "",
            "tax_provider_id": "",
            "customer_locale": "en",
            "is_tax_inclusive_pricing": False,
            "products": {
                "url": f"{link}/products",
                "resource": f"/orders/{self.id}/products",
            },
            "shipping_addresses": {
                "url": f"{link}/shipping_addresses",
                "resource": f"/orders/{self.id}/shipping_addresses",
            },
            "coupons": {
                "url": f"{link}/coupons",
                "resource": f"/orders/{self.id}/coupons",
            },
            "consignments": {
                "url": f"{link}/consignments",
                "resource": f"/orders/{self.id}/consignments",
            },
            "fees": {"url": f"{link}/fees", "resource": f"/orders/{self.id}/fees"},
        }


@dataclass
class Metafield:
    id: int
    order_id: int
    namespace: str
    key: str
    value: str
    permission_set: str
    description: str
    created: datetime
    modified: datetime
    owner_client_id: str

    def render(self) -> JSON:
        return {
            "id": self.id,
            "resource_id": self.order_id,
            "resource_type": "order",
            "namespace": self.namespace,
            "key": self.key,
            "value": self.value,
            "permission_set": self.permission_set,
            "description": self.description,
            "date_created": iso(self.created),
            "date_modified": iso(self.modified),
            "owner_client_id": self.owner_client_id,
        }


@dataclass
class Hook:
    id: int
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str]
    created: datetime
    modified: datetime
    deactivated: bool = False

    def matches(self, scope: str) -> bool:
        """Whether an event of this scope goes to this hook (`store/order/*` too)."""
        if self.scope.endswith("/*"):
            return scope.startswith(self.scope[:-1])
        return scope == self.scope

    @property
    def status(self) -> str:
        """As the hooks admin view names it."""
        if self.deactivated:
            return "deactivated"
        return "active" if self.is_active else "inactive"

    def render(self, store_hash: str, client_id: str) -> JSON:
        return {
            "id": self.id,
            "client_id": client_id,
            "store_hash": store_hash,
            "scope": self.scope,
            "destination": self.destination,
            "is_active": self.is_active,
            "headers": dict(self.headers),
            "created_at": int(self.created.timestamp()),
            "updated_at": int(self.modified.timestamp()),
        }


def _ids() -> Iterator[int]:
    return itertools.count(1)


@dataclass
class StoreState:
    """Everything one simulated store holds."""

    store_hash: str
    store_id: str
    time_zone: str
    name: str = "Simulated Store"
    currency: str = "USD"
    client_id: str = "netterms-simulator"
    groups: dict[int, CustomerGroup] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    metafields: dict[int, Metafield] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)
    admin_emails: list[str] = field(default_factory=list)
    _sequences: dict[str, Iterator[int]] = field(default_factory=dict)
    # Metafield ids by order, so a store with 100,000 of them answers per
    # order without walking them all. Change metafields only through the
    # methods below, which keep the two in step.
    _metafields_by_order: dict[int, dict[int, Metafield]] = field(default_factory=dict)

    def metafields_of(self, order_id: int) -> list[Metafield]:
        """An order's metafields, oldest first."""
        return list(self._metafields_by_order.get(order_id, {}).values())

    def add_metafield(self, metafield: Metafield) -> None:
        self.metafields[metafield.id] = metafield
        self._metafields_by_order.setdefault(metafield.order_id, {})[metafield.id] = (
            metafield
        )

    def remove_metafield(self, metafield_id: int) -> Metafield | None:
        removed = self.metafields.pop(metafield_id, None)
        if removed is not None:
            self._metafields_by_order.get(removed.order_id, {}).pop(metafield_id, None)
        return removed

    def clear_metafields(self) -> None:
        self.metafields.clear()
        self._metafields_by_order.clear()

    def next_id(self, kind: str) -> int:
        """The next id of a kind; orders start at 100 as a new store's do."""
        if kind not in self._sequences:
            self._sequences[kind] = itertools.count(100 if kind == "order" else 1)
        return next(self._sequences[kind])

    def render_store(self) -> JSON:
        """GET /v2/store."""
        return {
            "id": self.store_hash,
            "store_id": int(self.store_id),
            "account_uuid": "00000000-0000-4000-8000-000000000000",
            "domain": "store.invalid",
            "secure_url": "https://store.invalid",
            "control_panel_base_url": f"https://store-{self.store_hash}.invalid",
            "status": "live",
            "name": self.name,
            "first_name": "Sim",
            "last_name": "Ulator",
            "address": "",
            "country": "United States",
            "country_code": "US",
            "phone": "",
            "admin_email": "admin@store.invalid",
            "order_email": "orders@store.invalid",
            "favicon_url": "",
            "timezone": {
                "name": self.time_zone,
                "raw_offset": 0,
                "dst_offset": 0,
                "dst_correction": False,
                "date_format": {
                    "display": "M jS Y",
                    "export": "M jS Y",
                    "extended_display": "M jS Y @ g:i A",
                },
            },
            "language": "en",
            "currency": self.currency,
            "currency_symbol": "$",
            "decimal_separator": ".",
            "thousands_separator": ",",
            "decimal_places": 2,
            "currency_symbol_location": "left",
            "weight_units": "Ounces",
            "dimension_units": "Inches",
            "dimension_decimal_places": 2,
            "dimension_decimal_token": ".",
            "dimension_thousands_token": ",",
            "plan_name": "Standard",
            "plan_level": "Standard",
            "plan_is_trial": False,
            "industry": "",
            "logo": [],
            "is_price_entered_with_tax": False,
            "default_site_id": 1,
            "default_channel_id": 1,
            "active_comparison_modules": [],
            "features": {
                "stencil_enabled": True,
                "sitewidehttps_enabled": True,
                "facebook_catalog_id": "",
                "checkout_type": "optimized",
                "wishlists_enabled": False,
                "graphql_storefront_api_enabled": True,
                "shopper_consent_tracking_enabled": False,
                "multi_storefront_enabled": False,
            },
        }


EventSink = Callable[[str, JSON], None]
"""Where the routes report what happened: (scope, data) of a webhook event."""
