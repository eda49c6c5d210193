"""Editing the schedule and template files from the studio: drafts, publish, history.

- `files`: the catalog's files by version path ('schedules/x.yaml', 'templates/y.sms.j2'),
  read, hashed and written atomically.
- `drafts`: unpublished edits in the database; a draft remembers the file's hash when it
  began, so an edit made on disk since is a conflict, never overwritten.
"""
