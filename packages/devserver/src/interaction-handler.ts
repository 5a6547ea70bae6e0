/**
 * Answers oidc-provider's interactions (`/interaction/:uid`) without a person: the login prompt signs in the demo
 * account, the consent prompt grants whatever the client asked for. Each answer redirects (303) back to the
 * authorization or device endpoint, so a browser — or the headless user — only has to follow redirects.
 *
 * This replaces oidc-provider's `devInteractions` (disabled: they show forms and print warnings). Any other prompt
 * name is answered with `access_denied`, so an unexpected policy change fails loudly instead of looping.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { Interaction, InteractionResults } from "oidc-provider";
import { DEMO_ACCOUNT_ID } from "./provider-configuration.ts";

/** The path prefix oidc-provider sends browsers to (its default `interactions.url`). */
export const INTERACTION_PATH_PREFIX = "/interaction/";

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function consentResult(provider: Provider, interaction: Interaction): Promise<InteractionResults> {
  const details = interaction.prompt.details;
  const existing = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId);
  const clientId = typeof interaction.params.client_id === "string" ? interaction.params.client_id : undefined;
  const grant =
    existing ?? new provider.Grant({ accountId: interaction.session?.accountId ?? DEMO_ACCOUNT_ID, clientId });

  const missingScopes = stringList(details.missingOIDCScope);
  if (missingScopes.length > 0) grant.addOIDCScope(missingScopes.join(" "));
  const missingClaims = stringList(details.missingOIDCClaims);
  if (missingClaims.length > 0) grant.addOIDCClaims(missingClaims);
  const missingResourceScopes = details.missingResourceScopes;
  if (isRecord(missingResourceScopes)) {
    for (const [resource, scopes] of Object.entries(missingResourceScopes)) {
      grant.addResourceScope(resource, stringList(scopes).join(" "));
    }
  }

  const grantId = await grant.save();
  // A new grant must be named in the result; an updated one is already linked to the interaction.
  return existing === undefined ? { consent: { grantId } } : { consent: {} };
}

async function resultFor(provider: Provider, interaction: Interaction): Promise<InteractionResults> {
  switch (interaction.prompt.name) {
    case "login":
      return { login: { accountId: DEMO_ACCOUNT_ID } };
    case "consent":
      return consentResult(provider, interaction);
    default:
      return {
        error: "access_denied",
        error_description: `the local authorization server cannot answer the "${interaction.prompt.name}" prompt`,
      };
  }
}

/** Finishes the interaction named by the request's cookie and redirects the user agent back to the provider. */
export async function answerInteraction(
  provider: Provider,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(request, response);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "unknown error";
    response.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
    response.end(`interaction not found: ${reason}\n`);
    return;
  }
  const result = await resultFor(provider, interaction);
  await provider.interactionFinished(request, response, result, { mergeWithLastSubmission: true });
}
