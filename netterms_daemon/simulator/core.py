"""One simulated store: its data, clock, quota, faults, counters and webhooks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from netterms_daemon.simulator.clock import SimulatedClock
from netterms_daemon.simulator.faults import Dice, Faults
from netterms_daemon.simulator.quota import Quota
from netterms_daemon.simulator.state import (
    JSON,
    Customer,
    CustomerGroup,
    Order,
    StoreState,
)
from netterms_daemon.simulator.webhooks import (
    RETRY_SCHEDULE_S,
    BlockPolicy,
    WebhookDispatcher,
)


@dataclass(frozen=True)
class StoreOptions:
    """How a simulated store is set up."""

    store_hash: str = "sim123"
    access_token: str = "simulator-token"
    store_id: str = "1000001"
    time_zone: str = "America/Chicago"
    quota: int = 150
    window_s: float = 30.0
    speed: float = 1.0
    start: datetime | None = None
    random_seed: int | None = None
    delivery_timeout_s: float = 10.0
    retry_schedule_s: tuple[float, ...] | None = None
    block: BlockPolicy | None = None


class SimulatedStore:
    """Everything behind the simulated API, shared by its handlers."""

    def __init__(self, options: StoreOptions) -> None:
        self.options = options
        self.clock = SimulatedClock(options.start, options.speed)
        self.faults = Faults()
        self.dice = Dice(options.random_seed)
        self.api_calls: Counter[str] = Counter()
        self.quota = Quota(options.quota, options.window_s)
        self.state = self._empty_state()
        self.webhooks = self._dispatcher()

    def _empty_state(self) -> StoreState:
        return StoreState(
            store_hash=self.options.store_hash,
            store_id=self.options.store_id,
            time_zone=self.options.time_zone,
        )

    def _dispatcher(self) -> WebhookDispatcher:
        return WebhookDispatcher(
            self.state,
            self.clock,
            self.faults,
            self.dice,
            schedule_s=self.options.retry_schedule_s or RETRY_SCHEDULE_S,
            timeout_s=self.options.delivery_timeout_s,
            block=self.options.block,
        )

    def emit(self, scope: str, data: JSON) -> None:
        """Tell the hooks something happened."""
        self.webhooks.publish(scope, data)

    def reset(self) -> None:
        """Forget every record and counter; hooks and deliveries go too."""
        self.state.groups.clear()
        self.state.customers.clear()
        self.state.orders.clear()
        self.state.clear_metafields()
        self.state.hooks.clear()
        self.state._sequences.clear()
        self.api_calls.clear()
        self.quota.refused = 0
        self.webhooks.reset()

    def seed(self) -> JSON:
        """A net-terms group, customers in and out of it; say what was made."""
        now = self.clock.now()
        net30 = self.add_group("Net30 Wholesale", now)
        retail = self.add_group("Retail", now)
        made = [
            self.add_customer(
                "ada@wholesale.test", "Ada", "Lovelace", net30.id, "Analytical Ltd"
            ),
            self.add_customer(
                "alan@wholesale.test", "Alan", "Turing", net30.id, "Bombe Co"
            ),
            self.add_customer("grace@retail.test", "Grace", "Hopper", retail.id),
            self.add_customer("linus@nogroup.test", "Linus", "Pauling", 0),
        ]
        return {
            "groups": [net30.render(), retail.render()],
            "customers": [c.render() for c in made],
        }

    def add_group(self, name: str, when: datetime | None = None) -> CustomerGroup:
        """Create a customer group directly (seeding; the API has its own route)."""
        when = when or self.clock.now()
        group = CustomerGroup(self.state.next_id("group"), name, when, when)
        self.state.groups[group.id] = group
        return group

    def add_customer(
        self, email: str, first: str, last: str, group_id: int, company: str = ""
    ) -> Customer:
        """Create a customer directly, firing store/customer/created."""
        now = self.clock.now()
        customer = Customer(
            self.state.next_id("customer"),
            email,
            first,
            last,
            now,
            now,
            company=company,
            customer_group_id=group_id,
        )
        self.state.customers[customer.id] = customer
        self.emit("store/customer/created", {"type": "customer", "id": customer.id})
        return customer

    def add_order(
        self,
        customer_id: int,
        total: Decimal,
        *,
        status_id: int = 11,
        created: datetime | None = None,
        tax: Decimal = Decimal(0),
    ) -> Order:
        """Create an order directly, firing store/order/created."""
        now = self.clock.now()
        customer = self.state.customers.get(customer_id)
        order = Order(
            id=self.state.next_id("order"),
            customer_id=customer_id,
            status_id=status_id,
            created=created or now,
            modified=now,
            subtotal_ex_tax=total - tax,
            subtotal_inc_tax=total,
            currency=self.state.currency,
            items_total=1,
            billing_address=billing_address(customer),
        )
        self.state.orders[order.id] = order
        self.emit("store/order/created", {"type": "order", "id": order.id})
        return order


def billing_address(customer: Customer | None, given: JSON | None = None) -> JSON:
    """The billing address an order shows, from what was sent or the customer."""
    address: JSON = {
        "first_name": customer.first_name if customer else "Guest",
        "last_name": customer.last_name if customer else "Shopper",
        "company": customer.company if customer else "",
        "street_1": "1 Main Street",
        "street_2": "",
        "city": "Austin",
        "state": "Texas",
        "zip": "78701",
        "country": "United States",
        "country_iso2": "US",
        "phone": "",
        "email": customer.email if customer else "guest@store.invalid",
    }
    address.update({k: v for k, v in (given or {}).items() if k != "form_fields"})
    address["form_fields"] = []
    return address
