"""Images a deploy writes onto a boot volume: where they come from, how they are checked,
and how they get onto the volume.

`source` reads instance_info (image_source, the checksum keys) the way Ironic
does; `fetch` brings the image into the conductor's cache, verified on the
way; `inspect` refuses images that would make qemu-img read other files;
`write` converts the image onto the volume, a local file or an iSCSI LUN.
Nothing here touches the database or a node: the deploy interface does
(`drivers/deploy/image.py`).
"""
