"""Tracking what happens after hand-over: each provider's webhook verified and parsed into
normalised events (`events`, `twilio`, `sendgrid`), delivery reports applied (`reports`),
texts from prospects handled (`inbound`), each event once (`once`). Nothing past the
parsers sees a provider's payload."""
