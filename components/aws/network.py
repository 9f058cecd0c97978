"""AWS network: VPC, private and public subnets per zone, NAT, S3 gateway endpoint, flow logs."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from aistack.spec.clouds import AwsCloudSpec, zone_index
from components import contract
from components.aws.iam import document, service_trust


def subnet_blocks(cidr: str, zone: str) -> tuple[str, str]:
    """The (private, public) CIDR blocks of a zone, fixed by the zone's letter.

    Private node subnets take one eighth of the VPC each (zones a–f); public subnets, for load
    balancers and NAT only, take a sixty-fourth each from the last eighth.
    """
    net = ipaddress.ip_network(cidr)
    index = zone_index(zone)
    eighths = list(net.subnets(new_prefix=net.prefixlen + 3))
    public = list(eighths[7].subnets(new_prefix=net.prefixlen + 6))
    return str(eighths[index]), str(public[index])


class Network(contract.Network):
    """VPC across the configured zones, private node subnets, egress through NAT.

    Children: ``-vpc``, ``-default-sg`` (the VPC's default security group, emptied), ``-igw``,
    per zone ``-private-<zone>`` / ``-public-<zone>`` subnets and ``-private-rt-<zone>`` route
    tables, ``-public-rt``, NAT gateways with EIPs (``-nat-<zone>``, one per zone or one in the
    first zone), ``-s3-endpoint`` (gateway), and flow logs (``-flow-logs`` log group, encrypted with the stack's log key, role, flow log).

    Outputs: ``network_id`` (VPC id), ``node_subnet_ids`` (zone → private subnet id),
    ``public_subnet_ids`` (zone → public subnet id), ``node_route_table_ids`` (zone → the private route
    table its nodes use; a site-to-site VPN propagates its routes into these, ``components/aws/vpn.py``).
    """

    CLOUD = "aws"
    OUTPUTS = ("network_id", "node_subnet_ids", "public_subnet_ids", "node_route_table_ids")

    def __init__(
        self,
        name: str,
        spec: AwsCloudSpec,
        cluster_names: list[str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        log_key_arn: pulumi.Input[str] | None = None,
    ) -> None:
        """Args besides the spec: ``log_key_arn`` encrypts the flow-log group (see ``audit.AuditLog``)."""
        super().__init__(name, opts)
        vpc = aws.ec2.Vpc(
            self.child("vpc"),
            cidr_block=spec.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": self.child("vpc")},
            opts=self.opts(),
        )
        # CIS AWS 5.4: the default security group allows nothing.
        aws.ec2.DefaultSecurityGroup(self.child("default-sg"), vpc_id=vpc.id, opts=self.opts())
        igw = aws.ec2.InternetGateway(self.child("igw"), vpc_id=vpc.id, opts=self.opts())
        cluster_tags = {f"kubernetes.io/cluster/{c}": "shared" for c in cluster_names}
        public_rt = aws.ec2.RouteTable(
            self.child("public-rt"),
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            opts=self.opts(),
        )
        zones = sorted(spec.zones, key=zone_index)
        nat_zones = zones if spec.nat == "per_zone" else zones[:1]
        private, public, nats, private_rts = {}, {}, {}, {}
        for zone in zones:
            blocks = dict(zip(("private", "public"), subnet_blocks(spec.cidr, zone), strict=True))
            for tier, subnets, role in (("private", private, "internal-elb"), ("public", public, "elb")):
                subnets[zone] = aws.ec2.Subnet(
                    self.child(f"{tier}-{zone}"),
                    vpc_id=vpc.id,
                    cidr_block=blocks[tier],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": self.child(f"{tier}-{zone}"),
                        f"kubernetes.io/role/{role}": "1",
                        **cluster_tags,
                    },
                    opts=self.opts(),
                )
            aws.ec2.RouteTableAssociation(
                self.child(f"public-rta-{zone}"),
                subnet_id=public[zone].id,
                route_table_id=public_rt.id,
                opts=self.opts(),
            )
        for zone in nat_zones:
            eip = aws.ec2.Eip(self.child(f"nat-eip-{zone}"), domain="vpc", opts=self.opts())
            nats[zone] = aws.ec2.NatGateway(
                self.child(f"nat-{zone}"),
                allocation_id=eip.id,
                subnet_id=public[zone].id,
                tags={"Name": self.child(f"nat-{zone}")},
                opts=self.opts(depends_on=[igw]),
            )
        for zone in zones:
            nat = nats.get(zone, nats[nat_zones[0]])
            rt = aws.ec2.RouteTable(
                self.child(f"private-rt-{zone}"),
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                opts=self.opts(),
            )
            aws.ec2.RouteTableAssociation(
                self.child(f"private-rta-{zone}"),
                subnet_id=private[zone].id,
                route_table_id=rt.id,
                opts=self.opts(),
            )
            private_rts[zone] = rt.id
        # Model weights travel to nodes over the S3 gateway: private, and no NAT data charges.
        aws.ec2.VpcEndpoint(
            self.child("s3-endpoint"),
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{spec.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=list(private_rts.values()),
            opts=self.opts(),
        )
        log_group = aws.cloudwatch.LogGroup(
            self.child("flow-logs"),
            retention_in_days=spec.flow_log_retention_days,
            kms_key_id=log_key_arn,
            opts=self.opts(),
        )
        flow_role = aws.iam.Role(
            self.child("flow-logs-role"),
            assume_role_policy=service_trust("vpc-flow-logs.amazonaws.com"),
            opts=self.opts(),
        )
        aws.iam.RolePolicy(
            self.child("flow-logs-write"),
            role=flow_role.id,
            policy=document(
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                }
            ),
            opts=self.opts(),
        )
        aws.ec2.FlowLog(
            self.child("flow-log"),
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=flow_role.arn,
            opts=self.opts(),
        )
        self.finish(
            network_id=vpc.id,
            node_subnet_ids={zone: subnet.id for zone, subnet in private.items()},
            public_subnet_ids={zone: subnet.id for zone, subnet in public.items()},
            node_route_table_ids=private_rts,
        )
