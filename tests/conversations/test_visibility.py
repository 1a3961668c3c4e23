"""SPEC "Access permissions": none / own / department (with sub-departments) / all."""

import pytest

from convodesk.accounts.models import Level, Role, User
from convodesk.conversations import services
from convodesk.conversations.models import Conversation

from .. import factories as f


def fresh_user(user) -> User:
    """Levels are cached on the instance; a new instance sees role changes."""
    return User.objects.get(pk=user.pk)


def visible(user, action="view") -> set[int]:
    return set(
        Conversation.objects.visible_to(fresh_user(user), action).values_list("pk", flat=True)
    )


def conversation(conn, client, t=0) -> Conversation:
    return f.client_message(conn, client, "Hello", when=f.at(t)).conversation


@pytest.fixture
def quiet_line(org):
    """A line with no members, so nothing is offered to anyone by itself."""
    return f.connection(f.line("Quiet"))


@pytest.fixture
def held(org, quiet_line):
    """One conversation held by each operator (taken by them), plus one nobody holds."""
    convs = {}
    for name in ("op1", "op2", "op3"):
        conv = conversation(quiet_line, f"client-{name}")
        services.take(conv.pk, f.act(org.admin), now=f.at(1))
        services.transfer(conv.pk, f.act(org.admin), to_employee=getattr(org, name), now=f.at(2))
        services.take(conv.pk, f.act(getattr(org, name)), now=f.at(3))
        convs[name] = conv.pk
    convs["nobody"] = conversation(quiet_line, "client-nobody").pk
    return convs


def test_own_level_sees_only_the_conversations_the_user_is_responsible_for(org, held):
    assert visible(org.op1) == {held["op1"]}
    assert visible(org.op3) == {held["op3"]}


def test_own_level_still_sees_a_conversation_they_were_responsible_for_before_a_transfer(org, held):
    services.transfer(held["op1"], f.act(org.op1), to_employee=org.op3, now=f.at(10))
    services.take(held["op1"], f.act(org.op3), now=f.at(11))
    assert held["op1"] in visible(org.op1)
    assert held["op1"] in visible(org.op3)


def test_own_level_sees_a_conversation_they_wrote_in(org, held):
    helper = f.employee("helper", roles=["Chief executive"])
    services.reply(held["op3"], f.act(helper), "Joining to help", now=f.at(20))
    helper.roles.set([f.role("Manager")])
    assert visible(helper) == {held["op3"]}


def test_own_level_includes_the_conversations_currently_offered_in_a_queue(org):
    conv = conversation(org.conn, "c1")  # offered to op1, op2, op3 (all at once)
    for op in (org.op1, org.op2, org.op3):
        assert conv.pk in visible(op)
    services.take(conv.pk, f.act(org.op2), now=f.at(5))
    assert conv.pk not in visible(org.op1)
    assert conv.pk in visible(org.op2)


def test_level_none_sees_only_what_is_offered_to_them_and_what_they_hold_now(org, held):
    nobody = Role.objects.create(name="No view", view_conversations=0)
    org.op1.roles.set([nobody])
    assert visible(org.op1) == {held["op1"]}
    conv = conversation(org.conn, "c-queue")
    assert visible(org.op1) == {held["op1"], conv.pk}
    services.transfer(held["op1"], f.act(org.admin), to_employee=org.op2, now=f.at(30))
    assert visible(org.op1) == {conv.pk}  # no longer theirs: level none keeps no history


def test_department_level_sees_the_own_sets_of_the_department_and_its_sub_departments(org, held):
    # The supervisor is in Sales (op1); Sales East (op2) is a sub-department; Support (op3) is not.
    assert visible(org.supervisor) == {held["op1"], held["op2"]}


def test_department_level_follows_a_conversation_transferred_out_of_the_department(org, held):
    services.transfer(held["op1"], f.act(org.op1), to_employee=org.op3, now=f.at(10))
    assert held["op1"] in visible(org.supervisor)  # op1 was responsible before the transfer


def test_all_level_sees_everything(org, held):
    everything = set(Conversation.objects.values_list("pk", flat=True))
    assert visible(org.admin) == everything  # superusers are administrators
    chief = f.employee("chief", roles=["Chief executive"])
    assert visible(chief) == everything


def test_a_role_given_to_a_department_applies_to_its_employees(org, held):
    f.grant_department_role(org.support, "Chief executive", include_subdepartments=False)
    assert visible(org.op3) == set(Conversation.objects.values_list("pk", flat=True))
    assert visible(org.op1) == {held["op1"]}


def test_a_department_role_with_sub_departments_applies_to_sub_department_employees(org, held):
    f.grant_department_role(org.sales, "Chief executive", include_subdepartments=True)
    assert len(visible(org.op2)) == 4


def test_a_department_role_without_sub_departments_does_not_reach_sub_department_employees(
    org, held
):
    f.grant_department_role(org.sales, "Chief executive", include_subdepartments=False)
    assert len(visible(org.op1)) == 4  # op1 is in Sales itself
    assert visible(org.op2) == {held["op2"]}  # op2 is in Sales East


def test_the_highest_level_of_own_and_department_roles_wins(org, held):
    weak = Role.objects.create(name="Weak", view_conversations=0)
    org.op1.roles.set([weak])
    f.grant_department_role(org.sales, "Manager")
    assert visible(org.op1) == {held["op1"]}


def test_each_action_has_its_own_level(org, held):
    # The default Manager role: history and statistics own, rate none.
    assert visible(org.op1, "history") == {held["op1"]}
    assert visible(org.op1, "stats") == {held["op1"]}
    assert visible(org.op1, "rate") == set()
    # The supervisor's department role rates at department level.
    assert visible(org.supervisor, "rate") == {held["op1"], held["op2"]}


def test_an_offered_conversation_cannot_be_rated_by_an_employee_without_the_rate_permission(org):
    conv = conversation(org.conn, "c1")
    assert conv.pk in visible(org.op1)
    assert conv.pk not in visible(org.op1, "rate")
    with pytest.raises(services.NotAllowed):
        services.supervisor_rate(conv.pk, f.act(fresh_user(org.op1)), 5, "great", now=f.at(5))


def test_an_employee_who_may_not_see_a_conversation_gets_not_found(org, held):
    with pytest.raises(services.NotFound):
        services.close(held["op3"], f.act(org.op1), now=f.at(30))


@pytest.mark.parametrize(
    ("role_name", "expected"),
    [("Chief executive", "all"), ("Manager", "none"), (None, "none")],
)
def test_an_integration_sees_what_its_role_allows(org, held, role_name, expected):
    bot = f.integration(role_name=role_name or "Manager")
    if role_name is None:
        bot.roles.clear()
    everything = set(Conversation.objects.values_list("pk", flat=True))
    assert visible(bot) == (everything if expected == "all" else set())


def test_an_inactive_or_anonymous_user_sees_nothing(org, held):
    from django.contrib.auth.models import AnonymousUser

    assert not Conversation.objects.visible_to(AnonymousUser()).exists()
    org.admin.is_active = False
    org.admin.save()
    assert visible(org.admin) == set()


def test_an_employee_who_skipped_an_evenly_offer_no_longer_sees_it(org):
    line = f.line("Evenly", members=[org.op1, org.op2], distribution="evenly")
    conv = conversation(f.connection(line), "c1")
    assert conv.pk in visible(org.op1)
    services.skip(conv.pk, f.act(org.op1), now=f.at(5))
    assert conv.pk in visible(org.op2)
    assert conv.pk not in visible(org.op1)


def test_a_member_at_level_none_can_answer_the_conversation_they_took_from_the_queue(org):
    org.op1.roles.set([Role.objects.create(name="No view", view_conversations=0)])
    conv = conversation(org.conn, "c1")
    op1 = fresh_user(org.op1)
    services.take(conv.pk, f.act(op1), now=f.at(5))
    services.reply(conv.pk, f.act(fresh_user(org.op1)), "Hello", now=f.at(10))


def test_access_answers_hidden_like_missing_and_refuses_a_visible_one_the_role_may_not_act_on(
    org, held
):
    """`visibility.access`: the one check behind the views', API's and CRM's 404 / 403."""
    from convodesk.conversations import visibility

    missing = max(held.values()) + 1000
    for pk in (held["op2"], missing):  # op1 cannot see op2's: the same answer as a missing one
        with pytest.raises(services.NotFound):
            visibility.access(fresh_user(org.op1), pk, "act")
    assert visibility.access(fresh_user(org.op1), held["op1"], "act").pk == held["op1"]

    supervisor = f.employee("watcher", roles=["Chief executive"])
    supervisor.roles.set(
        [Role.objects.create(name="Watch only", view_conversations=Level.ALL, act=Level.OWN)]
    )
    watcher = fresh_user(supervisor)
    assert visibility.access(watcher, held["op2"]).pk == held["op2"]  # sees everything
    with pytest.raises(services.NotAllowed):
        visibility.access(watcher, held["op2"], "act")  # acts on their own only


def test_many_viewers_asked_at_once_see_what_each_sees_alone(org, held):
    """The live feed asks for all of a process's sockets in one read (visibility.visible_among)."""
    from convodesk.conversations.visibility import scope_for, visible_among

    nobody = Role.objects.create(name="No view", view_conversations=0)
    queue_only = f.employee("queue-only", departments=[org.support])
    queue_only.roles.set([nobody])
    queued = conversation(org.conn, "c-queue").pk  # offered to op1, op2, op3
    services.transfer(held["op1"], f.act(org.op1), to_employee=org.op3, now=f.at(10))
    chief = f.employee("chief", roles=["Chief executive"])
    viewers = [org.op1, org.op2, org.op3, org.supervisor, queue_only, chief, org.admin]
    ids = set(Conversation.objects.values_list("pk", flat=True))
    scopes = {n: scope_for(fresh_user(user), "view") for n, user in enumerate(viewers)}
    together = visible_among(scopes, ids)
    for n, user in enumerate(viewers):
        assert together[n] == visible(user), user.username
    assert queued in together[0] and held["op1"] in together[0] and held["op1"] in together[2]
    assert together[4] == set() and together[5] == ids
    assert visible_among({0: ("nothing", None)}, ids) == {0: set()}
    assert visible_among({0: scopes[0]}, set()) == {0: set()}
