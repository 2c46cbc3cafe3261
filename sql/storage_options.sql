-- storage_options: a malformed storage option is refused when it is set,
-- with SQLSTATE 22023, the option named, and a valid example in the hint;
-- the configuration in force is left as it was.
SELECT backend AS backend_before, options AS options_before FROM reset_system.storage \gset
\set VERBOSITY default
-- s3: endpoints curl could not parse, an empty region, a bucket name S3 refuses
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://[::1"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://[::1]x"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://minio:99999"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://minio:port"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://mi..nio"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "https://key:secret@s3.example.com"}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "region": ""}');
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "region": "EU WEST"}');
SELECT reset_configure_storage('s3', '{"bucket": "b..c"}');
SELECT reset_configure_storage('s3', '{"bucket": "-uploads"}');
SELECT reset_configure_storage('s3', '{"bucket": "192.168.10.1"}');
SELECT reset_configure_storage('s3', '{"bucket": "Uploads"}');
-- http: no host; a space and a newline; a query; a bad escape
SELECT reset_configure_storage('http', '{"base_url": "http://"}');
SELECT reset_configure_storage('http', jsonb_build_object('base_url', E'http://files.example.com/up loads/\n'));
SELECT reset_configure_storage('http', jsonb_build_object('base_url', E'http://files.example.com/uploads/\n'));
SELECT reset_configure_storage('http', '{"base_url": "http://files.example.com/uploads/?x=1"}');
SELECT reset_configure_storage('http', '{"base_url": "http://files.example.com/100%/"}');
SELECT reset_configure_storage('http', '{"base_url": "http://files.example.com/a\"b/"}');
-- gcs: the same endpoint rules, Google's bucket name rules, a safe prefix_root
SELECT reset_configure_storage('gcs', '{"bucket": "uploads", "endpoint": "http://[::1"}');
SELECT reset_configure_storage('gcs', '{"bucket": "goog-uploads"}');
SELECT reset_configure_storage('gcs', '{"bucket": "up..loads"}');
SELECT reset_configure_storage('gcs', '{"bucket": "uploads", "prefix_root": "/abs/"}');
-- file: control characters and empty segments in the root
SELECT reset_configure_storage('file', jsonb_build_object('root', E'/srv/app/media\n'));
SELECT reset_configure_storage('file', '{"root": "/srv//media"}');
-- azure: account and container names as Azure defines them, the endpoint, the prefix
SELECT reset_configure_storage('azure', '{"container": "media"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads"}');
SELECT reset_configure_storage('azure', '{"account": "My_Account", "container": "media"}');
SELECT reset_configure_storage('azure', '{"account": "ab", "container": "media"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "Media"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "me--dia"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "-media"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media", "endpoint": "https://[::1"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media", "endpoint": "https://user:pw@myappuploads.blob.core.windows.net"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media", "prefix": "../up/"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media", "batch": "yes"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media", "account_key": "x"}');
-- nothing was changed by any of that
SELECT backend = :'backend_before' AND options = :'options_before'::jsonb AS unchanged FROM reset_system.storage;
-- what is well formed is accepted (nothing is contacted when configuring)
SELECT reset_configure_storage('s3', '{"bucket": "uploads", "endpoint": "http://[::1]:9000", "path_style": true}');
SELECT reset_configure_storage('http', '{"base_url": "https://files.example.com:8443/up%20loads/"}');
SELECT reset_configure_storage('gcs', '{"bucket": "app_uploads.example.com", "endpoint": "http://127.0.0.1:4443"}');
SELECT reset_configure_storage('azure', '{"account": "myappuploads", "container": "media"}');
SELECT reset_configure_storage('azure', '{"account": "devstoreaccount1", "container": "media-2024", "endpoint": "http://127.0.0.1:10000/devstoreaccount1/", "prefix": "prod/", "batch": false}');
SELECT reset_configure_storage(:'backend_before', :'options_before'::jsonb) IS NOT NULL AS restored;
