"""Terms: policies and the payment schedules they give orders. Pure code, no I/O."""
