export { FLIGHTS_COLUMNS, readAirports, readBuiltinFlights, vegaDatasetsDir } from './builtin-flights.js';
export { readParquet, writeParquet } from './parquet.js';
export {
  BUILTIN_DATASETS,
  type DatasetFormat,
  formatOf,
  type ReadDatasetOptions,
  readDataset,
  readFromStore,
} from './read.js';
export * from './table.js';
export { readCsv, readJson } from './text-formats.js';
