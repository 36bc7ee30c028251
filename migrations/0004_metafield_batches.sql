-- Metafields are written in batches, after the order's status and note: an
-- order with a schedule and no metafield id is waiting for its batch. The
-- retry time leases a claimed order to one writer (several daemons may share
-- the database) and spaces out the tries of one the store refused. The
-- writer records what it did under its own actor.

ALTER TABLE tracked_orders ADD COLUMN metafield_retry_at timestamptz;

CREATE INDEX tracked_orders_metafield_pending
    ON tracked_orders (store_hash, order_id)
    WHERE metafield_id IS NULL
      AND schedule IS NOT NULL
      AND state IN ('awaiting_payment', 'held', 'paid');

ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_check
    CHECK (actor IN ('webhook', 'reconciler', 'cli', 'api', 'worker'));
