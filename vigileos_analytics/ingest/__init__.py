"""Getting points into a store: :mod:`.recording` (``EquipmentMetricsService``, the
seed's write API), :mod:`.importing` (CSV, Parquet and line-protocol files), :mod:`.collect` (probing live
equipment on an interval), :mod:`.simulate` and :mod:`.simulation_io` (a realistic
fleet for demos and tests, and writing it with its inventory)."""
