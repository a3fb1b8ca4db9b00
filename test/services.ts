/**
 * The real services integration tests talk to. A missing variable fails the test with a message
 * that says how to start the services; integration tests are never skipped.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: start the test services with hack/services-up (npm test does it for you)`,
    );
  }
  return value;
}

export function testDatabaseUrl(): string {
  return requireEnv('MLCYCLE_TEST_DATABASE_URL');
}

export function testS3(): { s3Endpoint: string; s3AccessKey: string; s3SecretKey: string; s3Region: string } {
  return {
    s3Endpoint: requireEnv('MLCYCLE_TEST_S3_ENDPOINT'),
    s3AccessKey: requireEnv('MLCYCLE_TEST_S3_ACCESS_KEY'),
    s3SecretKey: requireEnv('MLCYCLE_TEST_S3_SECRET_KEY'),
    s3Region: process.env.MLCYCLE_TEST_S3_REGION ?? 'us-east-1',
  };
}
