"""Lesson 18 exercise — least privilege: one principal, one topic, one group.

Goal: a new reporting service logs in as READER, a SCRAM user made for this run. Write the ACL
bindings that let READER consume `orders` in its consumer group `reader`, and nothing else: not
`payments`, no writes, no wildcard, no ALL — name the topic and the group exactly (LITERAL).

`kafkalab lesson 18` makes the topics and the user on a secure cluster, runs this file as
`admin` (a super user: no ACL applies to it), then logs in as READER itself: READER must read
orders through its group, be refused payments, and fail to write to orders.
"""

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kafkalab.exercise import setup

lab = setup()
ORDERS = lab.topic("orders")  # the one topic READER may read
GROUP = lab.group("reader")  # the group READER's consumer joins, and commits its offsets in
READER = f"User:{lab.params['username']}"  # an ACL names a SCRAM login as User:<name>

admin = AdminClient(lab.config)

# One AclBinding is one rule: a resource (type, name, pattern type) and who may do what to it
# (principal, host, operation, ALLOW or DENY). This broker runs StandardAuthorizer with
# allow.everyone.if.no.acl.found=false: READER may do only what an ALLOW rule names.
bindings: list[AclBinding] = [
    # TODO: ALLOW READER to READ the topic ORDERS (fetch its records).
    # TODO: ALLOW READER to READ the group GROUP (join it, fetch and commit its offsets).
]

if bindings:  # create_acls() refuses an empty list
    for binding, future in admin.create_acls(bindings, request_timeout=30).items():
        future.result()  # raises if the broker refused the rule
        print(f"created: {binding}")

# What the broker now holds for READER: the grader reads the same list.
mine = AclBindingFilter(
    ResourceType.ANY,
    None,
    ResourcePatternType.ANY,
    READER,
    None,
    AclOperation.ANY,
    AclPermissionType.ANY,
)
for binding in admin.describe_acls(mine, request_timeout=30).result():
    print(f"in force: {binding}")
