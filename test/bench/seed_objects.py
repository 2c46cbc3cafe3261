#!/usr/bin/python3
"""seed_objects.py: create many small objects for the purge benchmarks.

    seed_objects.py LAYOUT ROOT COUNT [PER_DIR]

Keys are bench/dNNNN/oNNNNNNN.bin, PER_DIR (default 200) to a directory,
plus one bench/dNNNN/keep per directory that no tool is asked to delete:
the directories never become empty, which keeps s3rver's slow and racy
empty-directory clean-up out of every measurement alike.

LAYOUT "plain" writes each object as a file ROOT/KEY (a local directory, or
a WebDAV tree served by nginx).  LAYOUT "gcs" sends them to the GCS test
double whose base URL is ROOT (its test-only bulk seeding endpoint, bucket
"uploads").  LAYOUT "azure" uploads them to Azurite through the seeding
endpoint of test/lib/azure_proxy.py whose base URL is ROOT (container
"media").  LAYOUT "s3rver" writes s3rver's on-disk layout under ROOT (the
bucket directory): KEY._S3rver_object with the body and
KEY._S3rver_object.md5 with its MD5; s3rver serves such objects exactly as
if they had been uploaded, and seeding this way takes seconds where
uploading 20,000 objects takes minutes.

Prints the keys to delete, one per line, on stdout.
"""

import hashlib
import json
import os
import sys
import urllib.request


def main():
    layout, root, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    per_dir = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    out = sys.stdout
    made = set()
    remote = []
    for i in range(count):
        d = "bench/d%04d" % (i // per_dir)
        key = "%s/o%07d.bin" % (d, i)
        body = (key + "\n").encode()
        names = [key]
        if d not in made:
            made.add(d)
            names.append(d + "/keep")
        if layout in ("gcs", "azure"):
            remote.extend(names)
            out.write(key + "\n")
            continue
        for name in names:
            path = os.path.join(root, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = body if name == key else b"keep\n"
            if layout == "s3rver":
                with open(path + "._S3rver_object", "wb") as f:
                    f.write(data)
                with open(path + "._S3rver_object.md5", "w") as f:
                    f.write(hashlib.md5(data).hexdigest())
            else:
                with open(path, "wb") as f:
                    f.write(data)
        out.write(key + "\n")
    if layout == "gcs":
        body = json.dumps({"names": remote, "data": "x"}).encode()
        req = urllib.request.Request(root.rstrip("/") + "/_test/seed/uploads", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
    if layout == "azure":
        for i in range(0, len(remote), 5000):
            body = json.dumps({"container": "media", "names": remote[i:i + 5000], "data": "x"}).encode()
            req = urllib.request.Request(root.rstrip("/") + "/_test/seed", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=3600).read()


if __name__ == "__main__":
    main()
