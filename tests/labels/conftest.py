from tests.api.conftest import anon, api_as  # noqa: F401  (the API client fixtures)
