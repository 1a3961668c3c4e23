from tests.conversations.test_concurrency import *
from tests.conversations.test_concurrency import pytestmark
def test_peek(org):
    members = [f.employee(f"member{i}") for i in range(THREADS)]
    line = f.line("Busy", members=members)
    conn = f.connection(line)
    conv = f.client_message(conn, "c1", "Hello", when=f.at(0)).conversation
    results = run_concurrently(lambda i: services.take(conv.pk, f.act(members[i]), now=f.at(10)))
    print("PEEK", [type(r).__name__ + ":" + getattr(r, "code", "") for r in results])
