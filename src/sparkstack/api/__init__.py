"""The library API: one plain typed function per verb (launch, describe, destroy, submit...).

The CLI calls only these. Each module here composes the layers (cloud, nodes, services) and
reports progress as :mod:`sparkstack.events`; none of them prints.
"""
