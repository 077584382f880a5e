// Runs once before a jest project: prepares the migrated template database that DB tests clone.
import { prepareTemplateDatabase } from './database';

// eslint-disable-next-line no-restricted-syntax -- jest requires a default export here
export default async function globalSetup(): Promise<void> {
  await prepareTemplateDatabase();
}
