"""Validates an OpenAPI document (a JSON file) against the OpenAPI 3.1 specification with the
`openapi-spec-validator` package; prints every error and exits 1 if there is any."""
import json
import sys

from openapi_spec_validator import OpenAPIV31SpecValidator

with open(sys.argv[1], encoding="utf-8") as f:
    document = json.load(f)
errors = list(OpenAPIV31SpecValidator(document).iter_errors())
for error in errors:
    print(str(error).split("\n")[0])
print(f"{len(errors)} errors")
sys.exit(1 if errors else 0)
