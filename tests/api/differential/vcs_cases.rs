//! The code-hosting providers compared, each against its fake of `tests/fakes/`: Node reaches
//! github and gitlab at their configurable URLs, bitbucketServer at `https://<host>`, and
//! bitbucket and atlassian at their hard-coded hosts (`redirect-hosts.cjs` sends those to the
//! fakes); stagedoor gets the same config, plus its `baseUrl` where Node has no key.

use crate::differential::cases::{Case, FakeShape, IdpKind};
use crate::differential::idps::Accounts;
use crate::differential::scenarios::Scenario::{self, *};

/// What every code-hosting case runs.
const VCS: &[Scenario] = &[
    Session,
    RedirectSignIn,
    UserOutsideTheCatalog,
    AccountWithoutEmail,
    AccessDenied,
    BadCode,
    ReplayedCallback,
    MissingNonceCookie,
    DisallowedOrigin,
    ForgedOrigin,
    EveryResolver,
    StaleRefreshToken,
];

/// The fakes' accounts (`login`s).
const FAKE_ACCOUNTS: Accounts = Accounts {
    alice: "alice",
    nobody: "nobody",
    noemail: "noemail",
};

pub const VCS_CASES: &[Case] = &[
    Case {
        id: "github",
        module: "github",
        idp: IdpKind::Fake(FakeShape {
            name: "github",
            tls: false,
            hosts: &[],
            env: &[],
        }),
        // bob has no public email.
        accounts: Accounts {
            noemail: "bob",
            ..FAKE_ACCOUNTS
        },
        scope: "read:user",
        config: "
development: { enterpriseInstanceUrl: '{origin}/', clientId: oauth-app, clientSecret: oauth-app-secret, RESOLVER }
username: { enterpriseInstanceUrl: '{origin}', clientId: oauth-app, clientSecret: oauth-app-secret, signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] } }
app: { enterpriseInstanceUrl: '{origin}', clientId: github-app, clientSecret: github-app-secret, signIn: { resolvers: [{ resolver: userIdMatchingUserEntityAnnotation }] } }
local: { enterpriseInstanceUrl: '{origin}', clientId: oauth-app, clientSecret: oauth-app-secret, signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] } }
",
        resolver_envs: &["username", "app", "local"],
        rotating_env: "app",
        scenarios: VCS,
    },
    Case {
        id: "gitlab",
        module: "gitlab",
        idp: IdpKind::Fake(FakeShape {
            name: "gitlab",
            tls: false,
            hosts: &[],
            env: &[("FAKE_PUBLIC_URL", "https://gitlab.example.com")],
        }),
        accounts: FAKE_ACCOUNTS,
        scope: "read_user",
        config: "
development: { audience: '{origin}', clientId: gitlab-app, clientSecret: gitlab-app-secret, RESOLVER }
username: { audience: '{origin}', clientId: gitlab-app, clientSecret: gitlab-app-secret, signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] } }
userid: { audience: '{origin}', clientId: gitlab-app, clientSecret: gitlab-app-secret, signIn: { resolvers: [{ resolver: userIdMatchingUserEntityAnnotation }] } }
local: { audience: '{origin}', clientId: gitlab-app, clientSecret: gitlab-app-secret, signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] } }
",
        resolver_envs: &["username", "userid", "local"],
        rotating_env: "development",
        scenarios: VCS,
    },
    Case {
        id: "bitbucket",
        module: "bitbucket",
        idp: IdpKind::Fake(FakeShape {
            name: "bitbucket",
            tls: true,
            hosts: &["bitbucket.org", "api.bitbucket.org"],
            env: &[("FAKE_PUBLIC_URL", "https://bitbucket.org")],
        }),
        accounts: FAKE_ACCOUNTS,
        scope: "account",
        // `baseUrl` is stagedoor's (Node has no key and ignores it).
        config: "
development: { baseUrl: '{origin}', clientId: bitbucket-key, clientSecret: bitbucket-secret, signIn: { resolvers: [{ resolver: userIdMatchingUserEntityAnnotation }] } }
username: { baseUrl: '{origin}', clientId: bitbucket-key, clientSecret: bitbucket-secret, signIn: { resolvers: [{ resolver: usernameMatchingUserEntityAnnotation }] } }
email: { baseUrl: '{origin}', clientId: bitbucket-key, clientSecret: bitbucket-secret, RESOLVER }
local: { baseUrl: '{origin}', clientId: bitbucket-key, clientSecret: bitbucket-secret, signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] } }
",
        resolver_envs: &["username", "email", "local"],
        rotating_env: "development",
        // Bitbucket profiles have no email: every account is "without email" (`email`).
        scenarios: &[
            Session,
            RedirectSignIn,
            UserOutsideTheCatalog,
            AccessDenied,
            BadCode,
            ReplayedCallback,
            MissingNonceCookie,
            DisallowedOrigin,
            ForgedOrigin,
            EveryResolver,
            StaleRefreshToken,
        ],
    },
    Case {
        id: "bitbucketServer",
        module: "bitbucket-server",
        idp: IdpKind::Fake(FakeShape {
            name: "bitbucketServer",
            tls: true,
            hosts: &[],
            env: &[],
        }),
        accounts: FAKE_ACCOUNTS,
        scope: "PROJECT_ADMIN",
        config: "
development: { host: '{host}', clientId: bbs-client, clientSecret: bbs-secret, RESOLVER }
local: { host: '{host}', clientId: bbs-client, clientSecret: bbs-secret, signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] } }
",
        resolver_envs: &["local"],
        rotating_env: "development",
        scenarios: VCS,
    },
    Case {
        id: "atlassian",
        module: "atlassian",
        idp: IdpKind::Fake(FakeShape {
            name: "atlassian",
            tls: true,
            hosts: &["auth.atlassian.com", "api.atlassian.com"],
            env: &[],
        }),
        accounts: FAKE_ACCOUNTS,
        // The stock frontend asks for no scope.
        scope: "",
        config: "
development: { baseUrl: '{origin}', clientId: atlassian-client, clientSecret: atlassian-secret, RESOLVER }
username: { baseUrl: '{origin}', clientId: atlassian-client, clientSecret: atlassian-secret, signIn: { resolvers: [{ resolver: usernameMatchingUserEntityName }] } }
local: { baseUrl: '{origin}', clientId: atlassian-client, clientSecret: atlassian-secret, signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] } }
",
        resolver_envs: &["username", "local"],
        rotating_env: "development",
        scenarios: VCS,
    },
];

/// The catalog's annotations for the providers' user ids: `(user, [(annotation, value)])`.
pub const ANNOTATIONS: &[(&str, &[(&str, &str)])] = &[(
    "alice",
    &[
        ("github.com/user-id", "MDQ6VXNlcjEwMDE="),
        ("gitlab.example.com/user-id", "1001"),
        (
            "bitbucket.org/user-id",
            "{00001001-0000-4000-8000-000000001001}",
        ),
        ("bitbucket.org/username", "alice"),
    ],
)];
