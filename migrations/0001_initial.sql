-- The first schema: webhook inbox, tracked orders, audit log, group
-- membership cache and reconciler state. Every table that holds store data
-- starts its key with the store hash, so one database can serve several
-- stores. Money is numeric, never float; times are timestamptz.

CREATE TABLE inbox_events (
    store_hash       text        NOT NULL,
    id               bigint      GENERATED ALWAYS AS IDENTITY,
    scope            text        NOT NULL,
    event_hash       text        NOT NULL,
    event_created_at bigint      NOT NULL,
    resource_id      bigint,
    payload          jsonb       NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'done', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz,
    PRIMARY KEY (store_hash, id),
    -- BigCommerce's hash alone is not unique across scopes; the three are.
    UNIQUE (store_hash, scope, event_hash, event_created_at)
);

-- The worker's claim query reads only what is due.
CREATE INDEX inbox_events_due
    ON inbox_events (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX inbox_events_state ON inbox_events (store_hash, state, id);

CREATE TABLE tracked_orders (
    store_hash           text          NOT NULL,
    order_id             bigint        NOT NULL,
    customer_id          bigint        NOT NULL,
    customer_group_id    bigint,
    group_name           text,
    policy               text,
    schedule             jsonb,
    order_created_at     timestamptz   NOT NULL,
    due_date             date,
    amount               numeric(20, 4) NOT NULL,
    currency             char(3)       NOT NULL,
    state                text          NOT NULL
        CHECK (state IN ('awaiting_payment', 'paid', 'closed', 'held', 'ignored')),
    ignored_reason       text,
    bc_status_id         integer,
    bc_date_modified     timestamptz,
    due_soon_flagged_at  timestamptz,
    overdue_flagged_at   timestamptz,
    escalation_days      integer       NOT NULL DEFAULT 0,
    paid_at              timestamptz,
    closed_at            timestamptz,
    created_at           timestamptz   NOT NULL DEFAULT now(),
    updated_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_hash, order_id)
);

CREATE INDEX tracked_orders_open_by_due
    ON tracked_orders (store_hash, due_date)
    WHERE state = 'awaiting_payment';
CREATE INDEX tracked_orders_by_customer
    ON tracked_orders (store_hash, customer_id, state);

CREATE TABLE audit_log (
    store_hash  text        NOT NULL,
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL
        CHECK (actor IN ('webhook', 'reconciler', 'cli', 'api')),
    order_id    bigint,
    action      text        NOT NULL,
    before      jsonb,
    after       jsonb,
    PRIMARY KEY (store_hash, id)
);

CREATE INDEX audit_log_by_order ON audit_log (store_hash, order_id, id);

CREATE TABLE customer_groups_cache (
    store_hash        text        NOT NULL,
    customer_id       bigint      NOT NULL,
    customer_group_id bigint,
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_hash, customer_id)
);

CREATE TABLE reconciler_state (
    store_hash  text        NOT NULL,
    name        text        NOT NULL,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_hash, name)
);
