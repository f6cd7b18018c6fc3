"""Import a Cubes 1.x model (model.json) as a LabIS YAML model, and its denormalised data CSV.

Cubes reads a denormalised fact table: every attribute of every level is a column. LabIS keeps
dimension members in member tables and a single key column per dimension in the facts, so
the import

* turns each Cubes *aggregate* into a LabIS measure of the same name (`amount_sum`,
  `record_count`; without an `aggregates` list, Cubes' defaults: `<measure>_sum` per measure
  and `record_count`); aggregates over aggregates become calculated measures; aggregates over
  Cubes' row-level expression measures (`sum(double_amount)`) have no LabIS equivalent yet and
  are left out with a warning, as are window functions (`sma`, …);
* turns a `role: time` dimension whose levels are year/quarter/month/day into a LabIS time
  dimension over one date column built from the level columns (year 2010 → 2010-01-01); any
  other time dimension becomes a plain one;
* derives each plain dimension's members from the data (distinct level attribute values). A
  level key that recurs under different parents (Cubes keys only need to be unique within
  their parent) gets a path key `parent/key` so that it names one member, and the dimension's
  fact key is the leaf level's key;
* converts the data into a facts CSV whose header names the cube's fact columns: the Cubes
  attribute columns (as in the Cubes table), the date column and the dimension key columns.

The import writes a folder with the LabIS model (`model/`), a loader spec per cube
(`loaders/<cube>.yaml`, the format of the repository's loaders/) and the facts CSV it reads
(`data/<cube>.csv`). `load_facts` hands those files to the loaders — checked, with rejects,
lineage and a batch id, idempotent; the importer never writes to the engine itself.

Cubes' joins (snowflake schemas) are not imported: the data must be the denormalised table.

Modules: `parse` reads the Cubes model, `data` reads and converts the data, `write` writes the
YAML (model and loader spec), `translate` ties them together (`import_cubes`), `load` loads the
facts through the loaders.
"""

from .load import load_facts
from .translate import ImportResult, import_cubes

__all__ = ["ImportResult", "import_cubes", "load_facts"]
