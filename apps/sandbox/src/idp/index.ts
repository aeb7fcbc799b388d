/**
 * Simulated identity-provider SCIM clients: they drive any SCIM 2.0 service the way Okta and Microsoft Entra ID do,
 * request by request, so a service's tests and the demo can replay the providers' documented sequences.
 *
 *   const okta = oktaClient({ baseUrl: `${gateway}/scim/v2/${connectionId}`, token });
 *   const { user } = await okta.assignUser({ userName, givenName, familyName, email });
 *   await okta.deactivateUser(user.id);
 *   expect(okta.transcript.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([...]);
 */
export * from "./client.ts";
export * from "./entra.ts";
export * from "./okta.ts";
