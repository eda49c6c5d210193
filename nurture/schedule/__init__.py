"""The schedule: the clinic's sequences read from YAML (`catalog`), delays and send windows
(`delays`, `windows`), and planning when each of an enrollment's messages falls due
(`plan`). Pure but for reading the files."""

from nurture.schedule.catalog import Catalog, load_catalog
from nurture.schedule.clinic import Clinic
from nurture.schedule.sequence import Sequence, Step

__all__ = ["Catalog", "Clinic", "Sequence", "Step", "load_catalog"]
