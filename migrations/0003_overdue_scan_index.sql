-- The reconciler's overdue scan wants open orders never flagged overdue. The
-- index of open orders by due date made it walk every open order past its
-- due date, flagged or not; this one holds only the candidates.
CREATE INDEX tracked_orders_unflagged_by_due
    ON tracked_orders (store_hash, due_date, order_id)
    WHERE state = 'awaiting_payment' AND overdue_flagged_at IS NULL;
