"""Intake: a consultation request in (`request`), the prospect enrolled (`service`: one
`enroll()` behind the API and the CLI), written (`write`, `write_pg`, `consent`) and
answered (`answer`)."""
