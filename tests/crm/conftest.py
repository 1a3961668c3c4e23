"""The CRM scope world of test_scope.py and test_scope_api.py."""

import pytest

from convodesk.conversations import services
from convodesk.crm.models import Activity, Contact, Lead

from .. import factories as f


@pytest.fixture
def world(org):
    """op1 (Sales) holds `mine`, bound to the contact Ana; op3 (Support) holds `theirs`, bound
    to a lead. Olga is op1's own contact, Erik op2's (Sales East, below Sales), Sven op3's."""
    ana = Contact.objects.create(name="Ana Mine-contact")
    ana.add_phone("+34 600 11 22 33", "ES")
    mine = f.client_message(org.conn, "c1", phone="600112233", when=f.at(0)).conversation
    services.take(mine.pk, f.act(org.op1), now=f.at(5))
    theirs = f.client_message(org.conn, "c2", name="Zed Hidden-lead", when=f.at(10)).conversation
    services.take(theirs.pk, f.act(org.op3), now=f.at(15))
    mine.refresh_from_db()
    theirs.refresh_from_db()

    class W:
        pass

    w = W()
    w.org = org
    w.ana, w.mine, w.theirs = ana, mine, theirs
    w.lead = Lead.objects.get(title__contains="Zed")
    w.olga = Contact.objects.create(name="Olga Own-contact", responsible=org.op1)
    w.erik = Contact.objects.create(name="Erik East-contact", responsible=org.op2)
    w.sven = Contact.objects.create(name="Sven Support-contact", responsible=org.op3)
    w.a_mine = Activity.objects.get(conversation=mine)
    w.a_theirs = Activity.objects.get(conversation=theirs)
    return w
