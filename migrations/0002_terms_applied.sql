-- What applying terms needs: an "applying" state written before the daemon
-- touches the order in BigCommerce (so a crash in between is finished, never
-- repeated, on the next try), the frozen explanation and staff-note line, why
-- an order is held or closed, and who holds an inbox event's lease.

ALTER TABLE tracked_orders DROP CONSTRAINT tracked_orders_state_check;
ALTER TABLE tracked_orders ADD CONSTRAINT tracked_orders_state_check
    CHECK (state IN ('applying', 'awaiting_payment', 'paid', 'closed', 'held', 'ignored'));

ALTER TABLE tracked_orders
    ADD COLUMN target_state  text,
    ADD COLUMN explanation   text,
    ADD COLUMN note_line     text,
    ADD COLUMN hold_reason   text,
    ADD COLUMN closed_reason text,
    ADD COLUMN metafield_id  bigint;

ALTER TABLE inbox_events
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_at timestamptz;

CREATE INDEX inbox_events_by_resource ON inbox_events (store_hash, resource_id);
