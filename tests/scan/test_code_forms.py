"""Values where code puts them (issue 16, item 1): one row per form, caught and not caught.

Each row is a file as code writes it, with a generated key put where the form puts a
value (``{k}``: standard base64 of 32 bytes, ``{u}``: URL-safe base64 (a Fernet key),
``{h}``: hex of 32 bytes, ``{o}``: an opaque random token of 54 characters, ``{x}``:
65 random hex digits). A caught row names the rule and the variable the finding must
carry and is found at the key's line and column; a row expecting ``None`` must give no
finding at all (the same forms with placeholders, names that do not say key, calls that
do not read configuration).
"""

from __future__ import annotations

import base64
import secrets

import pytest

from importobot.scan.rules.files import scan_file

from .conftest import all_spellings


def _values() -> dict[str, str]:
    raw = secrets.token_bytes(32)
    return {
        "k": base64.b64encode(raw).decode(),
        "u": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "h": secrets.token_hex(32),
        "o": secrets.token_urlsafe(40),
        "x": secrets.token_hex(33)[:65],
        "w": _salt(),
        **_private_key_spellings(),
    }


def _private_key_spellings() -> dict[str, str]:
    """``{p}``: base64 of a PEM private key (a Kubernetes Secret's ``tls.key``);
    ``{g}``: base64 of a service account's JSON credentials holding one; ``{pub}``:
    base64 of the public key's PEM; ``{gj}``: base64 of JSON holding no key."""
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    account = {"type": "service_account", "project_id": "p", "private_key_id": "1"}
    return {
        "p": base64.b64encode(pem.encode()).decode(),
        "g": base64.b64encode(
            json.dumps({**account, "private_key": pem}, indent=2).encode()
        ).decode(),
        "pub": base64.b64encode(pub).decode(),
        "gj": base64.b64encode(json.dumps({**account, "client_id": "1" * 21}).encode()).decode(),
    }


#: WordPress's salt alphabet (wp_generate_password with special characters), less the
#: quotes the rows put around it.
_SALT_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
)


def _salt() -> str:
    """A 64-character salt holding one blank or more (about half of them do)."""
    while True:
        salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(64))
        if " " in salt.strip() and "  " not in salt and salt == salt.strip():
            return salt


_COMPOSE_HEAD = "services:\n  w:\n    environment:\n      "

CAUGHT: list[tuple[str, str, str, str, str]] = [
    # -- the argument or default of a call that reads or sets configuration
    (
        "env-positional-php",
        "config/broadcasting.php",
        "'secret' => env('PUSHER_APP_SECRET', '{k}'),\n",
        "IOB102",
        "PUSHER_APP_SECRET",
    ),
    (
        "env-default-keyword",
        "settings.py",
        'SECRET_KEY = env("DJANGO_SECRET_KEY", default="{o}")\n',
        "IOB102",
        "DJANGO_SECRET_KEY",
    ),
    (
        "env-default-over-lines",
        "settings.py",
        'SECRET_KEY = env(\n    "DJANGO_SECRET_KEY",\n    default="{o}",\n)\n',
        "IOB102",
        "DJANGO_SECRET_KEY",
    ),
    (
        "environ-get",
        "settings.py",
        'APP = os.environ.get("APP_SECRET", "{o}")\n',
        "IOB102",
        "APP_SECRET",
    ),
    (
        "environ-get-over-lines",
        "settings.py",
        'FERNET = os.environ.get(\n    "FERNET_KEY",\n    "{u}",\n)\n',
        "IOB102",
        "FERNET_KEY",
    ),
    ("getenv", "app.py", 'k = os.getenv("FERNET_KEY", "{u}")\n', "IOB102", "FERNET_KEY"),
    (
        "program-here-document",
        "conf.py",
        'ENV = """\nSECRET_KEY={o}\n"""\n',
        "IOB102",
        "SECRET_KEY",
    ),
    (
        "php-define",
        "wp-config.php",
        "define( 'AUTH_KEY', '{o}' );\n",
        "IOB102",
        "AUTH_KEY",
    ),
    (
        "go-decode-two-results",
        "main.go",
        'key, _ := hex.DecodeString("{h}")\n',
        "IOB102",
        "key",
    ),
    (
        "rust-turbofish",
        "main.rs",
        'let key = Key::<Aes256Gcm>::from_slice(b"{h}");\n',
        "IOB102",
        "key",
    ),
    ("makefile-conditional", "Makefile", "SECRET_KEY ?= {k}\n", "IOB102", "SECRET_KEY"),
    (
        "k8s-env-name-value",
        "deploy.yaml",
        "spec:\n  containers:\n    - name: app\n      env:\n        - name: SECRET_KEY\n"
        "          value: {k}\n",
        "IOB102",
        "SECRET_KEY",
    ),
    (
        "ecs-name-value-one-line",
        "task.json",
        '{{"environment": [{{"name": "FERNET_KEY", "value": "{u}"}}]}}\n',
        "IOB102",
        "FERNET_KEY",
    ),
    (
        "ecs-name-value-over-lines",
        "task.json",
        '{{"environment": [\n  {{\n    "name": "FERNET_KEY",\n    "value": "{u}"\n  }}\n]}}\n',
        "IOB102",
        "FERNET_KEY",
    ),
    ("yaml-list-under-keys", "keys.yaml", "keys:\n  - {h}\n  - {k}\n", "IOB102", "keys"),
    ("ruby-or-assign", "config.rb", "ENV['SECRET_KEY'] ||= '{k}'\n", "IOB102", "SECRET_KEY"),
    (
        "js-nullish-assign",
        "cfg.js",
        "process.env.SECRET_KEY ??= '{k}';\n",
        "IOB102",
        "process.env.SECRET_KEY",
    ),
    ("py-annotated", "settings.py", 'SECRET_KEY: str = "{k}"\n', "IOB102", "SECRET_KEY"),
    (
        "ts-annotated-field",
        "svc.ts",
        'private readonly secretKey: string | undefined = "{h}";\n',
        "IOB102",
        "secretKey",
    ),
    (
        "strict-comparison-literal",
        "app.js",
        'if (secretKey === "{k}") {{\n',
        "IOB102",
        "secretKey",
    ),
    (
        "environ-setdefault",
        "conftest.py",
        'os.environ.setdefault("FERNET_KEY", "{u}")\n',
        "IOB102",
        "FERNET_KEY",
    ),
    (
        "process-env-or",
        "server.js",
        'const secret = process.env.SESSION_SECRET || "{o}";\n',
        "IOB102",
        "SESSION_SECRET",
    ),
    (
        "process-env-nullish",
        "server.ts",
        'const k = process.env["ENCRYPTION_KEY"] ?? "{k}";\n',
        "IOB102",
        "ENCRYPTION_KEY",
    ),
    (
        "env-fetch-ruby",
        "config/initializers/secrets.rb",
        'base = ENV.fetch("SECRET_KEY_BASE", "{h}")\n',
        "IOB102",
        "SECRET_KEY_BASE",
    ),
    (
        "system-getproperty",
        "App.java",
        'String k = System.getProperty("app.encryptionKey", "{k}");\n',
        "IOB102",
        "app.encryptionKey",
    ),
    (
        "system-setproperty",
        "AppTest.java",
        'System.setProperty("app.encryptionKey", "{k}");\n',
        "IOB102",
        "app.encryptionKey",
    ),
    (
        "monkeypatch-setenv",
        "tests/test_app.py",
        '    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", "{u}")\n',
        "IOB102",
        "IMPORTOBOT_ENCRYPTION_KEY",
    ),
    # -- an indexed or attribute assignment
    (
        "environ-index",
        "conftest.py",
        'os.environ["FERNET_KEY"] = "{u}"\n',
        "IOB102",
        "FERNET_KEY",
    ),
    (
        "env-index-ruby",
        "spec/spec_helper.rb",
        'ENV["FERNET_KEY"] = "{u}"\n',
        "IOB102",
        "FERNET_KEY",
    ),
    (
        "process-env-attribute",
        "setup.js",
        'process.env.FERNET_KEY = "{u}";\n',
        "IOB102",
        "process.env.FERNET_KEY",
    ),
    # -- the argument of a key constructor, whatever the variable is called
    ("fernet-ctor", "app.py", 'f = Fernet(b"{u}")\n', "IOB102", "Fernet()"),
    (
        "credential-manager",
        "app.py",
        'cm = CredentialManager("{u}")\n',
        "IOB102",
        "CredentialManager()",
    ),
    ("aesgcm", "crypto.py", 'aead = AESGCM(b"{h}")\n', "IOB102", "AESGCM()"),
    # -- a decoder's argument assigned to a key-named target
    ("b64decode", "keys.py", 'SECRET_KEY = base64.b64decode("{k}")\n', "IOB102", "SECRET_KEY"),
    ("fromhex", "keys.py", 'enc_key = bytes.fromhex("{h}")\n', "IOB102", "enc_key"),
    (
        "buffer-from",
        "keys.js",
        'const encryptionKey = Buffer.from("{k}", "base64");\n',
        "IOB102",
        "encryptionKey",
    ),
    (
        "convert-frombase64",
        "Keys.cs",
        'var encryptionKey = Convert.FromBase64String("{k}");\n',
        "IOB102",
        "encryptionKey",
    ),
    ("go-byte-slice", "keys.go", 'var encryptionKey = []byte("{o}")\n', "IOB102", "encryptionKey"),
    ("rust-from-slice", "keys.rs", 'let key = Key::from_slice(b"{o}");\n', "IOB102", "key"),
    # -- lists, XML, blocks, heredocs, multi-line strings, continuations
    ("list-one-line", "keys.py", 'KEYS = ["{u}", "{k}"]\n', "IOB102", "KEYS"),
    ("list-over-lines", "keys.py", 'KEYS = [\n    "{u}",\n    "{k}",\n]\n', "IOB102", "KEYS"),
    # Brackets inside strings before the value do not close or open the list.
    (
        "list-after-brackets-in-strings",
        "keys.py",
        'KEYS = [\n    "a)b]c}}",\n    \'x(y[\',\n    "{k}",\n]\n',
        "IOB102",
        "KEYS",
    ),
    (
        "list-after-a-stray-closer",
        "keys.js",
        "const KEYS = [\n  f(a)),\n  '{u}',\n];\n",
        "IOB102",
        "KEYS",
    ),
    ("json-keys-array", "keys.json", '{{"keys": [\n  "{k}"\n]}}\n', "IOB102", "keys"),
    (
        "xml-element",
        "web.config",
        "<appSettings>\n  <encryptionKey>{k}</encryptionKey>\n</appSettings>\n",
        "IOB102",
        "encryptionKey",
    ),
    (
        "xml-element-over-lines",
        "config.xml",
        "<config>\n  <encryptionKey>\n    {k}\n  </encryptionKey>\n</config>\n",
        "IOB102",
        "encryptionKey",
    ),
    (
        "xml-add-key-value",
        "App.config",
        '<appSettings>\n  <add key="EncryptionKey" value="{k}" />\n</appSettings>\n',
        "IOB102",
        "EncryptionKey",
    ),
    (
        "terraform-default",
        "variables.tf",
        'variable "encryption_key" {{\n  type    = string\n  default = "{k}"\n}}\n',
        "IOB102",
        "encryption_key",
    ),
    (
        "terraform-heredoc",
        "variables.tf",
        'variable "encryption_key" {{\n  default = <<EOF\n{k}\nEOF\n}}\n',
        "IOB102",
        "encryption_key",
    ),
    ("toml-multiline", "config.toml", 'secret_key = """\n{k}\n"""\n', "IOB102", "secret_key"),
    ("yaml-folded", "app.yaml", "app:\n  secret_key: >-\n    {k}\n", "IOB102", "secret_key"),
    ("yaml-literal", "app.yaml", "app:\n  secret_key: |\n    {k}\n", "IOB102", "secret_key"),
    ("ini-continuation", "app.ini", "[app]\nsecret_key =\n    {k}\n", "IOB102", "secret_key"),
    (".envrc-statements", ".envrc", "export A=1; export FERNET_KEY={u}\n", "IOB101", "FERNET_KEY"),
    (
        ".envrc-statements-quoted",
        ".envrc",
        'export A="x"; export FERNET_KEY="{u}"; export B=2\n',
        "IOB101",
        "FERNET_KEY",
    ),
    # -- a 32-byte value under a neutral name in env blocks (D8)
    (
        "compose-neutral",
        "docker-compose.yml",
        'services:\n  web:\n    environment:\n      APP_VALUE: "{k}"\n',
        "IOB101",
        "APP_VALUE",
    ),
    (
        "actions-neutral",
        ".github/workflows/ci.yml",
        "env:\n  APP_VALUE: {u}\njobs:\n  t:\n    runs-on: x\n",
        "IOB101",
        "APP_VALUE",
    ),
    # -- hex of odd length under a secret name: an opaque secret
    ("odd-hex", "settings.py", 'SECRET_KEY = "{x}"\n', "IOB102", "SECRET_KEY"),
    # -- a salt drawn from an alphabet holding the blank (Bedrock's .env for WordPress)
    ("salt-with-blanks-env", ".env", "AUTH_KEY='{w}'\n", "IOB101", "AUTH_KEY"),
    ("salt-with-blanks-envrc", ".envrc", "export NONCE_SALT='{w}'\n", "IOB101", "NONCE_SALT"),
    # WordPress's own wp-config.php: define() calls, aligned or spaced (single quotes:
    # in double quotes PHP would read a salt's ``$`` as a variable)
    (
        "salt-with-blanks-wp-define",
        "wp-config.php",
        "<?php\ndefine('DB_NAME', 'wp');\ndefine('AUTH_KEY',         '{w}');\n",
        "IOB102",
        "AUTH_KEY",
    ),
    (
        "salt-with-blanks-wp-define-spaced",
        "wp-config.php",
        "define( 'LOGGED_IN_SALT', '{w}' );\n",
        "IOB102",
        "LOGGED_IN_SALT",
    ),
    (
        "salt-with-blanks-php-assign",
        "config.php",
        "$config['encryption_key'] = '{w}';\n",
        "IOB102",
        "encryption_key",
    ),
    # -- php-fpm's pool settings name a variable in brackets
    (
        "php-fpm-env",
        "php-fpm.d/www.conf",
        "[www]\nuser = www-data\nenv[PATH] = /usr/local/bin:/usr/bin\nenv[APP_SECRET_KEY] = {k}\n",
        "IOB102",
        "APP_SECRET_KEY",
    ),
    (
        "php-fpm-admin-value",
        "pool.conf",
        "php_admin_value[session.secret_key] = {u}\n",
        "IOB102",
        "session.secret_key",
    ),
    # -- a private key spelled in base64: whatever the name, IOB102 as a PEM block would be
    ("b64-pem-env", ".env", "JWT_PRIVATE_KEY={p}\n", "IOB102", "JWT_PRIVATE_KEY"),
    ("b64-pem-neutral-name", ".env", "DATA={p}\n", "IOB102", "DATA"),
    (
        "b64-pem-k8s-tls-secret",
        "tls-secret.yaml",
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\ndata:\n  tls.key: {p}\n",
        "IOB102",
        "tls.key",
    ),
    ("b64-pem-helm-values", "values.yaml", "ingress:\n  tls:\n    key: {p}\n", "IOB102", "key"),
    ("b64-pem-js", "config.js", 'const signingKey = "{p}";\n', "IOB102", "signingKey"),
    # -- a service account's JSON credentials in base64 (GCP's, in an env var)
    ("b64-sa-json-env", ".env", "GOOGLE_CREDENTIALS={g}\n", "IOB102", "GOOGLE_CREDENTIALS"),
    (
        "b64-sa-json-actions",
        ".github/workflows/deploy.yml",
        "env:\n  GCP_SA_KEY: {g}\njobs: {{}}\n",
        "IOB102",
        "GCP_SA_KEY",
    ),
    # -- a value field in a block named for it (Heroku's app.json)
    (
        "heroku-app-json",
        "app.json",
        '{{\n  "env": {{\n    "SECRET_KEY": {{\n      "description": "x",\n'
        '      "value": "{o}"\n    }}\n  }}\n}}\n',
        "IOB102",
        "SECRET_KEY",
    ),
    # -- the key argument of signing and MAC calls (key context whatever the name)
    (
        "jwt-sign",
        "auth.js",
        'const t = jwt.sign({{ id: user.id }}, "{h}", {{ expiresIn: "1h" }});\n',
        "IOB102",
        "jwt.sign()",
    ),
    ("jwt-verify", "auth.js", 'jwt.verify(token, "{o}", cb);\n', "IOB102", "jwt.verify()"),
    (
        "pyjwt-encode",
        "auth.py",
        't = jwt.encode(payload, "{k}", algorithm="HS256")\n',
        "IOB102",
        "jwt.encode()",
    ),
    ("ruby-jwt-decode", "auth.rb", "JWT.decode(token, '{h}', true)\n", "IOB102", "JWT.decode()"),
    (
        "node-create-hmac",
        "sig.js",
        'crypto.createHmac("sha256", "{h}").update(body).digest("hex");\n',
        "IOB102",
        "createHmac()",
    ),
    (
        "python-hmac-new",
        "sig.py",
        'hmac.new(b"{k}", msg, hashlib.sha256)\n',
        "IOB102",
        "hmac.new()",
    ),
    (
        "java-jwt-hmac256",
        "Auth.java",
        'Algorithm algorithm = Algorithm.HMAC256("{o}");\n',
        "IOB102",
        "Algorithm.HMAC256()",
    ),
    (
        "jjwt-sign-with",
        "Auth.java",
        'Jwts.builder().signWith(SignatureAlgorithm.HS256, "{o}").compact();\n',
        "IOB102",
        "signWith()",
    ),
    (
        "go-signed-string",
        "auth.go",
        's, err := token.SignedString([]byte("{o}"))\n',
        "IOB102",
        "token.SignedString()",
    ),
    ("cookie-parser", "app.js", 'app.use(cookieParser("{o}"));\n', "IOB102", "cookieParser()"),
    (
        "dotnet-symmetric-key",
        "Startup.cs",
        'IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("{o}")),\n',
        "IOB102",
        "SymmetricSecurityKey()",
    ),
    (
        "dotnet-getbytes-decoder",
        "Startup.cs",
        'var key = Encoding.ASCII.GetBytes("{o}");\n',
        "IOB102",
        "key",
    ),
    (
        "rust-hmac-from-slice",
        "mac.rs",
        'let mac = HmacSha256::new_from_slice(b"{h}").unwrap();\n',
        "IOB102",
        "HmacSha256()",
    ),
    # -- 0x-prefixed hex (an Ethereum private key in .env or a Hardhat config)
    ("0x-hex-env", ".env", "DEPLOYER_PRIVATE_KEY=0x{h}\n", "IOB101", "DEPLOYER_PRIVATE_KEY"),
    ("0x-hex-js", "hardhat.config.js", 'const PRIVATE_KEY = "0x{h}";\n', "IOB102", "PRIVATE_KEY"),
    # -- calls that set configuration: the name is the quoted argument before the value
    ("express-app-set", "app.js", 'app.set("secretKey", "{k}");\n', "IOB102", "secretKey"),
    (
        "setattr-settings",
        "conftest.py",
        'setattr(settings, "SECRET_KEY", "{o}")\n',
        "IOB102",
        "SECRET_KEY",
    ),
    (
        "configparser-set",
        "setup_conf.py",
        'config.set("session", "secret_key", "{h}")\n',
        "IOB102",
        "secret_key",
    ),
    (
        "laravel-config-set",
        "tests/TestCase.php",
        "Config::set('app.key', '{k}');\n",
        "IOB102",
        "app.key",
    ),
    (
        "php-ini-set",
        "index.php",
        "ini_set('session.hash_secret', '{h}');\n",
        "IOB102",
        "session.hash_secret",
    ),
    # -- a Kubernetes env list in a manifest: the value under the name field's name
    (
        "k8s-env-list",
        "deploy/pod.yaml",
        "spec:\n  containers:\n  - env:\n    - name: SECRET_KEY\n      value: {o}\n",
        "IOB102",
        "SECRET_KEY",
    ),
    (
        "k8s-env-list-quoted",
        "deploy/pod.yaml",
        'spec:\n  containers:\n  - env:\n    - name: FERNET_KEY\n      value: "{u}"\n',
        "IOB102",
        "FERNET_KEY",
    ),
    # -- directives that set a variable by name and value
    ("csh-setenv", "env.csh", "setenv SECRET_KEY {o}\n", "IOB102", "SECRET_KEY"),
    ("apache-setenv", ".htaccess", "SetEnv APP_SECRET {h}\n", "IOB102", "APP_SECRET"),
    ("fish-set-export", "config.fish", "set -gx SECRET_KEY '{o}'\n", "IOB102", "SECRET_KEY"),
    (
        "nginx-fastcgi-param",
        "nginx/site.conf",
        "location / {{\n    fastcgi_param APP_SECRET {h};\n}}\n",
        "IOB102",
        "APP_SECRET",
    ),
    ("uwsgi-env", "uwsgi.ini", "[uwsgi]\nenv = SECRET_KEY={o}\n", "IOB102", "SECRET_KEY"),
    # -- a reference's default is committed text: judged under the setting's name
    (
        "compose-default",
        "compose.yaml",
        _COMPOSE_HEAD + "ENCRYPTION_KEY: ${{ENCRYPTION_KEY:-{h}}}\n",
        "IOB101",
        "ENCRYPTION_KEY",
    ),
    (
        "compose-default-quoted",
        "compose.yaml",
        _COMPOSE_HEAD + 'SECRET_KEY_BASE: "${{SKB:-{k}}}"\n',
        "IOB101",
        "SECRET_KEY_BASE",
    ),
    (
        "compose-default-named-by-variable",
        "compose.yaml",
        _COMPOSE_HEAD + "APP_VALUE: ${{APP_SECRET-{o}}}\n",
        "IOB101",
        "APP_SECRET",
    ),
    ("dotenv-default", ".env.example", "SECRET_KEY=${{SECRET_KEY:={h}}}\n", "IOB101", "SECRET_KEY"),
    (
        "spring-properties-default",
        "src/main/resources/application.properties",
        "jwt.secret=${{JWT_SECRET:{h}}}\n",
        "IOB102",
        "jwt.secret",
    ),
    (
        "spring-yaml-default",
        "src/main/resources/application.yml",
        "app:\n  jwt:\n    secret: ${{JWT_SECRET:{k}}}\n",
        "IOB102",
        "secret",
    ),
    (
        "spring-value-annotation",
        "src/main/java/C.java",
        '    @Value("${{jwt.signing-key:{k}}}")\n    private String key;\n',
        "IOB102",
        "jwt.signing-key",
    ),
]

_COMPOSE = "services:\n  w:\n    environment:\n      "

NOT_CAUGHT: list[tuple[str, str, str]] = [
    # placeholders in the same forms
    (
        "env-placeholder",
        "app.php",
        "'secret' => env('PUSHER_APP_SECRET', 'your-pusher-secret-here'),\n",
    ),
    (
        "env-default-placeholder",
        "settings.py",
        'SECRET_KEY = env(\n    "DJANGO_SECRET_KEY",\n'
        '    default="django-insecure-change-me-please",\n)\n',
    ),
    ("getenv-reference", "app.py", 'k = os.getenv("FERNET_KEY", "${{FERNET_KEY}}")\n'),
    ("fernet-generated", "app.py", "f = Fernet(Fernet.generate_key())\n"),
    ("list-placeholders", "keys.py", 'KEYS = [\n    "changeme-changeme-changeme",\n]\n'),
    # names that do not say key
    ("env-neutral-name", "app.php", "'name' => env('APP_NAME', '{k}'),\n"),
    ("environ-index-id", "conftest.py", 'os.environ["REQUEST_ID"] = "{h}"\n'),
    ("b64decode-neutral", "icons.py", 'ICON = base64.b64decode("{k}")\n'),
    ("list-neutral", "hashes.py", 'HASHES = [\n    "{h}",\n    "{k}",\n]\n'),
    ("xml-neutral", "pom.xml", "<project>\n  <checksum>{h}</checksum>\n</project>\n"),
    ("terraform-neutral", "main.tf", 'variable "image_digest" {{\n  default = "{h}"\n}}\n'),
    ("toml-neutral", "data.toml", 'blob = """\n{k}\n"""\n'),
    ("ini-neutral", "app.ini", "[app]\nbuild =\n    {k}\n"),
    (
        "compose-hash-name",
        "compose.yaml",
        "services:\n  w:\n    environment:\n      IMAGE_SHA: {h}\n",
    ),
    (
        "compose-16-bytes",
        "compose.yaml",
        "services:\n  w:\n    environment:\n      APP_VALUE: {h16}\n",
    ),
    ("odd-hex-neutral", "settings.py", 'BUILD = "{x}"\n'),
    ("odd-hex-weak", "settings.py", 'SECRET_KEY = "{zeros}"\n'),
    (".env-uri-params", ".env", "APP_URI=pkcs11:token=a;object=b;secret_key={k}\n"),
    (".envrc-neutral-short", ".envrc", "export A=1; export SECRET_KEY=changeme\n"),
    # calls that do not read configuration, and an identifier
    ("non-config-call", "app.py", 'translate("SECRET_KEY", "{k}")\n'),
    ("non-config-method", "cache.py", 'cache.set("session_key", "{k}")\n'),
    ("non-config-call-kw", "app.py", 'log("SECRET_KEY", default="{k}")\n'),
    ("identifier-in-env", "app.py", 'k = os.getenv("FERNET_KEY_ID", "{h}")\n'),
    # setters of what is not configuration, and settings that are not keys
    ("map-put", "Cache.java", 'sessions.put("session_key", "{k}");\n'),
    ("setattr-object", "t.py", 'setattr(user, "api_secret", "{o}")\n'),
    ("config-set-neutral", "app.js", 'app.set("etag", "{k}");\n'),
    # unquoted member paths and calls in a program are code
    (
        "program-member-path",
        "hpke.py",
        "MLKEM768X25519PrivateKey = rust_openssl.hpke.MLKEM768X25519PrivateKey\n",
    ),
    (
        "program-named-call",
        "test_ecc.py",
        '        key = _import_rfc5915_der(unhexlify(data_hex), None, "1.2.840.10045")\n',
    ),
    # 0x-prefixed hex under neutral names (a Keccak role id) or of an address's size
    ("0x-hex-neutral-env", ".env", "MINTER_ROLE=0x{h}\n"),
    ("0x-address", ".env", "SIGNER_KEY=0x{h20}\n"),
    ("heroku-app-json-neutral", "app.json", '{{"env": {{"IMAGE": {{"value": "{h}"}}}}}}\n'),
    # signing calls with placeholders, references, and data in the key's place
    ("jwt-sign-placeholder", "auth.js", 'jwt.sign(p, "your-jwt-secret-change-me-please");\n'),
    ("jwt-sign-env", "auth.js", "jwt.sign(payload, process.env.JWT_SECRET);\n"),
    ("hmac-data-not-key", "sig.js", 'crypto.createHmac("sha256", secret).update("{h}");\n'),
    ("jwt-other-argument", "auth.py", 'jwt.decode(token, key, audience="{o}")\n'),
    ("log-call", "a.js", 'logger.info("{h}", x);\n'),
    # text with a few blanks under key names: a known_hosts line, a sentence, a format
    (
        "known-hosts-line",
        "defaults/main.yml",
        "example_org_ed25519_key: >\n  example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIzl"
        "nSq5ESxLgW0avvPk3j7zLV59hcAPkxrMNdnZMKP2\n",
    ),
    ("sentence-key", ".env", "SECRET_KEY='Replace this with a long random string, please!'\n"),
    ("format-key", "app.py", 'CACHE_KEY_FORMAT = "%Y-%m-%d %H:%M:%S.%f %z/{{user_id}}/v2"\n'),
    (
        "salt-double-blank",
        ".env",
        "AUTH_KEY='Xq7#mP2!  vL9@kR4$ nT6^wB8& yH3*cF5( jD1)gS0-zA'\n",
    ),
    (
        "salt-sentence-wp-define",
        "wp-config.php",
        "define('AUTH_KEY', 'put your unique phrase here');\n"
        "define('NONCE_SALT', 'Replace this with a long random string, please!');\n",
    ),
    ("salt-neutral-wp-define", "wp-config.php", "define('WP_HOME', '{w}');\n"),
    ("php-fpm-env-neutral", "www.conf", "[www]\nenv[BUILD_ID] = {h}\n"),
    # code after a comment marker on a minified line (jquery.scrollTo.min.js)
    (
        "code-in-comment",
        "a.min.js",
        "f(); // x\nif(s.limit&&/^\\d+$/.test(a[k])){{"
        "attr[key]=attr[key]<=0?0:Math.min(attr[key],max)}} // y\n"
        "g(); // attr[key]=attr[key]<=0?0:Math.min(attr[key],max)}}\n",
    ),
    # public keys and key-less JSON in base64
    ("b64-public-key-env", ".env", "JWT_PUBLIC_KEY={pub}\n"),
    ("b64-public-key-k8s", "cm.yaml", "apiVersion: v1\nkind: Secret\ndata:\n  tls.key: {pub}\n"),
    ("b64-json-no-key", ".env", "GOOGLE_CREDENTIALS={gj}\n"),
    # directives with names that do not say key, or no value
    ("apache-setenv-neutral", ".htaccess", "SetEnv APP_BUILD {h}\n"),
    (
        "nginx-param-variable",
        "site.conf",
        "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n",
    ),
    ("k8s-env-list-neutral", "pod.yaml", "env:\n- name: IMAGE_DIGEST\n  value: {h}\n"),
    # references: no default, a placeholder or zeros as the default, neutral names
    (
        "compose-default-placeholder",
        "compose.yaml",
        _COMPOSE_HEAD
        + "MERCURE_JWT_KEY: ${{CADDY_MERCURE_JWT_SECRET:-!ChangeThisMercureHubJWTSecretKey!}}\n",
    ),
    ("compose-default-zeros", "compose.yaml", _COMPOSE_HEAD + "ENCRYPTION_KEY: ${{EK:-{z64}}}\n"),
    (
        "compose-error-not-default",
        "compose.yaml",
        _COMPOSE_HEAD + "SECRET_KEY: ${{SECRET_KEY:?{h}}}\n",
    ),
    ("compose-default-neutral", "compose.yaml", _COMPOSE_HEAD + "IMAGE: ${{IMAGE_DIGEST:-{h}}}\n"),
    ("spring-default-neutral", "application.properties", "build.sha=${{BUILD_SHA:{h}}}\n"),
    # unquoted code in a program (a string there is quoted)
    (
        "program-bare-call",
        "models.py",
        "    translation_key = models.UUIDField(default=uuid.uuid4Qx9, editable=False)\n",
    ),
    (
        "program-bare-ternary",
        "app.js",
        "a.test(e)?n.altKey=!0:c.test(e)?n.ctrlKey=!0:u.test(e)?n.metaKey=!0:s.test(e)?n.x=!0:l\n",
    ),
    (
        "program-bare-arrow",
        "app.js",
        "const p={{has:(e,t)=>t in e,ownKeys:e=>Reflect.ownKeys(e).concat(Reflect.ownKeys(n))}}\n",
    ),
    # a name/value pair whose name is an identifier's
    (
        "name-value-identifier",
        "task.json",
        '{{"environment": [{{"name": "SIGNING_KEY_ID", "value": "{h}"}}]}}\n',
    ),
    # == compares too; a code sample in documentation reads like a program's code
    (
        "equality-of-identifiers",
        "t.c",
        "    assert(crypto_aead_xsalsa20poly1305_IETF_NSECBYTES =="
        " crypto_aead_xsalsa20poly1305_ietf_NSECBYTES);\n",
    ),
    (
        "doc-code-sample-rst",
        "guide.rst",
        "        decryptor = HPKE.new(sender_key=their_pub_key,\n",
    ),
    ("doc-code-sample-md", "README.md", "        decryptor = HPKE.new(sender_key=their_pub_key,\n"),
    # ciphertext is what encryption made, not a key
    ("ciphertext-name", "t.py", "ciphertext = '{h}'\n"),
    ("encrypted-name", "t.js", "const encryptedValue = '{k}';\n"),
    # comparisons in minified code: what follows === is code, not a value
    (
        "strict-comparison-code",
        "dist/app.js",
        "function f(t,e){{return t.focus.key===e.__keyQz&&t.focus.offset===o9&&"
        "!a.canInsertTextAfterV()&&!l?a.markDirty():e}}\n",
    ),
    (
        "strict-comparison-chain",
        "dist/app.js",
        "return e.keyOrCode===b&&!1===e.altKey&&!1===e.ctrlKey&&"
        "!1===e.metaKey&&!1===e.shiftKey}}(r)\n",
    ),
]


def _fill(template: str, values: dict[str, str]) -> str:
    extra = {
        "h16": secrets.token_hex(16),
        "zeros": "0" * 65,
        "z64": "0" * 64,
        "h20": secrets.token_hex(20),
    }
    return template.format(**values, **extra)


def _where(text: str, value: str) -> tuple[int, int]:
    before = text[: text.index(value)]
    return before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1


@pytest.mark.parametrize(
    ("path", "template", "rule", "variable"),
    [pytest.param(*row[1:], id=row[0]) for row in CAUGHT],
)
def test_form_is_caught(path: str, template: str, rule: str, variable: str) -> None:
    values = _values()
    text = _fill(template, values)
    findings = scan_file(path, text.encode())
    used = [v for v in values.values() if v in text]
    assert findings, f"no finding in {path}"
    for f in findings:
        assert (f.rule, f.variable) == (rule, variable)
        assert (f.line, f.column) in {_where(text, v) for v in used}
        shown = f.message + (f.variable or "")
        assert not any(v in shown for v in used)
    assert {(f.line, f.column) for f in findings} == {_where(text, v) for v in used}


@pytest.mark.parametrize(
    ("path", "template"), [pytest.param(*row[1:], id=row[0]) for row in NOT_CAUGHT]
)
def test_form_is_not_caught(path: str, template: str) -> None:
    text = _fill(template, _values())
    found = [(f.rule, f.variable, f.line) for f in scan_file(path, text.encode())]
    assert found == []


def test_no_key_spelling_in_any_output() -> None:
    raw = secrets.token_bytes(32)
    key = base64.urlsafe_b64encode(raw).decode()
    text = f'SECRET_KEY = env(\n    "DJANGO_SECRET_KEY",\n    default="{key}",\n)\n'
    findings = scan_file("settings.py", text.encode())
    assert len(findings) == 1
    blob = repr(findings) + repr([f.to_dict() for f in findings])
    assert not any(s in blob for s in all_spellings(raw))
