export {
  FLIGHTS_COLUMNS,
  FLIGHTS_DELAY_MINUTES,
  readAirports,
  readBuiltinFlights,
  vegaDatasetsDir,
} from './builtin-flights.js';
export { readParquet, writeParquet } from './parquet.js';
export {
  isProductionUri,
  PRODUCTION_SCHEME,
  type ProductionData,
  type ProductionWindow,
  parseProductionUri,
  productionUri,
  readProductionWindow,
} from './production.js';
export {
  BUILTIN_DATASETS,
  type DatasetFormat,
  formatOf,
  type ReadDatasetOptions,
  readDataset,
  readFromStore,
  readProduction,
} from './read.js';
export * from './table.js';
export { readCsv, readJson } from './text-formats.js';
