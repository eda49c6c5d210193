"""The people who use nurture and what they did: who is acting (`actor`) and the
tamper-evident audit trail (`audit`: `record`; `audit_chain`: hashing and `verify`;
`audit_query`: reading it back)."""
