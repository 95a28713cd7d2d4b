"""Push dispatch: providers, configurations, the payload, delivery and the dispatcher loop."""
