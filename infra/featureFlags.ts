/**
 * CDK feature flags this app relies on. They are passed as the App's default
 * context, so cdk.json or `-c` can still override them; the tests use the same set.
 */
export const FEATURE_FLAGS = {
  // Template findings of CDK's built-in CloudFormation validation fail the synth.
  '@aws-cdk/core:validateAgainstDefaultRules': true,
  // The stage's access-log ARN as API Gateway stores it (no drift on every run).
  '@aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard': true,
  // Policies from KMS key grants name the key, not "*".
  '@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope': true,
} as const;
