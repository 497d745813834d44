#!/usr/bin/env bash
# A bounded schemathesis pass over the API's own schema: 25 generated cases per operation
# (about 500 calls), every check but the one named below: fails on any 5xx and on any answer
# that breaks /v1/openapi.json (status, content type, headers, body schema).
#   bash .ci/schemathesis.sh BASE_URL TOKEN
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_URL="$1"
TOKEN="$2"
mkdir -p var

# Left out: positive_data_acceptance (ST202, "schema-valid request rejected"). It fails on
#  a) issue 11 item 8 (OpenAPI accuracy, another branch): the schema does not declare
#     - customTermEndDates' term_duration as required (the API answers 400 without it);
#     - the enums of targetView (products) and targetSegment (skus, availabilities);
#     - the YYYY-MM pattern of reconciliation's {month};
#     - lineItems' minItems 1 on POST carts;
#  b) business rules no schema can state (400 by design): a PATCH customTermEndDate that is not
#     one of the subscription's allowed dates; overage PUT for a customer without an
#     overage-capable subscription.
# Put it back once item 8 has landed, and see that only (b) is left.
EXCLUDED_CHECKS="positive_data_acceptance"

exec .venv/bin/schemathesis run "${BASE_URL}/v1/openapi.json" \
  --url "${BASE_URL}" \
  --header "Authorization: Bearer ${TOKEN}" \
  --header "X-Forwarded-Proto: https" \
  --checks all ${EXCLUDED_CHECKS:+--exclude-checks "${EXCLUDED_CHECKS}"} \
  --phases examples,fuzzing \
  --max-examples 25 \
  --seed 20261101 \
  --generation-database none \
  --workers 1 \
  --request-timeout 20 \
  --report junit --report-junit-path var/schemathesis-junit.xml
