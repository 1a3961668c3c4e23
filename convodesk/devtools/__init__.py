"""Development tooling, kept out of the product apps (as Zulip keeps `zilencer/`): the demo data,
the bulk benchmark generator, the invariant checker and the test runner behind `make test`."""
