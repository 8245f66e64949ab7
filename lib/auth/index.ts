// Who is calling and what they may do: access rules, JWT signing and checking, login throttling.
// Knows no actor: the users actor owns accounts and passwords, the gateway and the auth mixin apply these rules.

export * from "./access";
export * from "./tokens";
export * from "./login-throttle";
