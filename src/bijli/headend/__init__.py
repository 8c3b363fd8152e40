"""Head-end: takes meters' frames off the broker, checks them, stores them."""
