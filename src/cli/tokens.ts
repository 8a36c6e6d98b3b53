import { z } from "zod";
import { Role } from "../generated/prisma/enums.js";
import { createToken, revokeToken } from "../auth/tokens.js";
import { prisma } from "../db/client.js";
import { dateTime, table } from "./table.js";
import { CommandError, UsageError, type Parsed } from "./usage.js";

/** The roles the schema has, in its order (VIEWER, OPERATOR, ADMIN). */
const ROLES = Object.values(Role);

export const TOKEN_USAGE = `milepost token create --name NAME --role VIEWER|OPERATOR|ADMIN
                              a new token; its secret is printed once (only its hash is kept)
milepost token revoke ID      revokes a token at once (its open subscriptions end too)
milepost token list           every token: id, name, role, created, last used, revoked`;

/** `token create|revoke|list`, straight against the database: the way back in when the admin token is lost. */
export async function tokenCommand(parsed: Parsed, out: (line: string) => void): Promise<void> {
  const [action, ...rest] = parsed.positional;
  if (action === "create") {
    if (rest.length) throw new UsageError(`token create takes no arguments besides --name and --role (got "${rest[0]}")`);
    const name = z.string().trim().min(1).max(100).safeParse(parsed.options.get("name") ?? "");
    if (!name.success) throw new UsageError("token create needs --name NAME (1 to 100 characters)");
    const role = (parsed.options.get("role") ?? "").toUpperCase();
    if (!ROLES.includes(role as Role)) throw new UsageError(`token create needs --role, one of ${ROLES.join(", ")} (got "${parsed.options.get("role") ?? ""}")`);
    const { apiToken, token } = await createToken(name.data, role as Role);
    out(`created token ${apiToken.id} "${apiToken.name}" (${apiToken.role}); its secret, shown once:`);
    out(token);
    return;
  }
  if (action === "revoke") {
    const id = Number(rest[0]);
    if (rest.length !== 1 || !Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) throw new UsageError("token revoke needs the token's id (see `milepost token list`)");
    const revoked = await revokeToken(id);
    if (!revoked) throw new CommandError(`there is no token ${id} (see \`milepost token list\`)`);
    out(`revoked token ${id} "${revoked.name}" (${revoked.role})`);
    return;
  }
  if (action === "list") {
    const tokens = await prisma().apiToken.findMany({ orderBy: { id: "asc" } });
    table(
      ["id", "name", "role", "created", "last used", "revoked"],
      tokens.map((token) => [String(token.id), token.name, token.role, dateTime(token.createdAt), dateTime(token.lastUsedAt), dateTime(token.revokedAt)]),
      out,
    );
    return;
  }
  throw new UsageError(action ? `unknown token command "${action}"` : "token needs a command: create, revoke or list");
}
