// A storefront's queries through Apollo Client, as a browser app would make them: the
// customer's balance, then every page of its ledger by cursor, the reward catalogue and a
// cart preview's rewards, all in a normalised cache.
// Usage: node storefront.mjs <graphql url> <customer token>; prints what the cache holds.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { relayStylePagination } from "@apollo/client/utilities/index.js";

const [url, token] = process.argv.slice(2);

const ME = gql`
  query Me($after: String) {
    me {
      id
      externalId
      points { available }
      ledger(first: 2, after: $after) {
        edges { cursor node { id points reason } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

const BALANCE = gql`
  query Balance($id: ID!) {
    node(id: $id) { id ... on Customer { points { available pending } } }
  }
`;

const REWARDS = gql`
  query Rewards {
    rewards { id rewardId pointsCost redeemable }
  }
`;

const CART = gql`
  query Cart($input: EvaluateCartInput!) {
    evaluateCart(input: $input) {
      pointsToEarn
      redeemableRewards { reward { id rewardId pointsCost redeemable } pointsMissing }
      rewardsOutOfReach { reward { id rewardId pointsCost redeemable } pointsMissing }
    }
  }
`;

// No keyFields anywhere: every cached object is identified by its `id` alone.
const client = new ApolloClient({
  link: new HttpLink({ uri: url, headers: { Authorization: `Bearer ${token}` }, fetch }),
  cache: new InMemoryCache({ typePolicies: { Customer: { fields: { ledger: relayStylePagination() } } } }),
});

const watched = client.watchQuery({ query: ME });
let result = await watched.result();
let pages = 1;
while (result.data.me.ledger.pageInfo.hasNextPage) {
  result = await watched.fetchMore({ variables: { after: result.data.me.ledger.pageInfo.endCursor } });
  pages += 1;
}
const me = client.readQuery({ query: ME }).me;
// Another query, another shape, reaching the same customer through node(id:).
await client.query({ query: BALANCE, variables: { id: me.id } });
const customer = client.cache.extract()[client.cache.identify({ __typename: "Customer", id: me.id })];
// The catalogue, then a cart preview naming the same rewards: one cached Reward per id.
const rewards = (await client.query({ query: REWARDS })).data.rewards;
const cartInput = { currency: "EUR", lines: [{ sku: "LAMP", quantity: 1, unitPrice: "20.00" }] };
const cart = (await client.query({ query: CART, variables: { input: cartInput } })).data.evaluateCart;
const cached = client.cache.extract();
const cartRewards = [...cart.redeemableRewards, ...cart.rewardsOutOfReach];

console.log(
  JSON.stringify({
    pages,
    points: me.ledger.edges.map((edge) => edge.node.points),
    cacheKeys: Object.keys(client.cache.extract()),
    rootMe: client.cache.extract().ROOT_QUERY.me,
    customerPending: customer.points.pending,
    catalogue: rewards.length,
    rewardKeys: Object.keys(cached).filter((key) => key.startsWith("Reward:")).length,
    cartRewards: cartRewards.map((r) => [r.reward.rewardId, r.pointsMissing]),
    // What the cache holds for each reward the cart named: the catalogue's own verdict.
    cartRewardsCached: cartRewards.map((r) => cached[client.cache.identify(r.reward)].redeemable),
    catalogueVerdicts: cartRewards.map((r) => rewards.find((c) => c.id === r.reward.id).redeemable),
  }),
);
