// A contribution's page: its place on a small map, votes (toggle), comments, share link.
import { api, ApiError } from './lib/api.js';
import { $, $$, h, readJSON } from './lib/dom.js';
import { formatDateTime, formatNumber, t, tn } from './lib/i18n.js';
import { createMap, MAX_ZOOM } from './map/base.js';

const L = window.L;
const config = readJSON('contribution-config');
const plural = config.kind === 'report' ? 'reports' : 'proposals';
const base = `/api/v1/${plural}/${config.id}`;

// ---- the place ---------------------------------------------------------------------------------

const map = createMap('mini-map', config, { scrollWheelZoom: false });
const shape = L.geoJSON(config.geometry, {
  pointToLayer: (feature, latlng) => L.marker(latlng, {
    icon: L.divIcon({
      className: 'marker-point',
      html: h('span', { class: `sym sym-${config.kind} cat-${config.categoryIndex}` }),
      iconSize: [26, 26],
    }),
    keyboard: false,
    interactive: false,
  }),
  style: () => ({ className: `shape shape-${config.kind} cat-${config.categoryIndex}`, interactive: false }),
}).addTo(map);
if (config.geometry.type === 'Point') map.setView(config.center, 17);
else map.fitBounds(shape.getBounds(), { maxZoom: MAX_ZOOM - 1, padding: [24, 24] });

// ---- votes ---------------------------------------------------------------------------------------

const voteStatus = $('#votes-status');
function showVotes(result) {
  for (const button of $$('.vote')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.value) === result.my_vote));
  }
  for (const count of $$('[data-count]')) count.textContent = formatNumber(result.votes[count.dataset.count]);
  $('#votes-summary').textContent = config.kind === 'report'
    ? tn('vote.same_problem', result.votes.up)
    : t('vote.summary', { up: formatNumber(result.votes.up), down: formatNumber(result.votes.down) });
}

// While a vote is sent the button is marked busy, not disabled: a disabled button loses the
// focus (to the page's body), and keyboard and screen-reader users would lose their place.
for (const button of $$('.vote')) {
  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-disabled') === 'true') return;
    const pressed = button.getAttribute('aria-pressed') === 'true';
    button.setAttribute('aria-disabled', 'true');
    try {
      const result = pressed
        ? await api(`${base}/vote`, { method: 'DELETE' })
        : await api(`${base}/vote`, { method: 'PUT', json: { value: Number(button.dataset.value) } });
      showVotes(result);
      voteStatus.textContent = t(pressed ? 'vote.removed' : 'vote.saved');
    } catch (error) {
      voteStatus.textContent = error instanceof ApiError ? (error.detail ?? t('error.generic')) : t('error.network');
    } finally {
      button.removeAttribute('aria-disabled');
      if (document.activeElement === document.body) button.focus();
    }
  });
}

// ---- comments ------------------------------------------------------------------------------------

const commentForm = $('#comment-form');
if (commentForm) {
  commentForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const textarea = $('#f-comment');
    const error = $('#f-comment-error');
    error.textContent = '';
    textarea.removeAttribute('aria-invalid');
    try {
      const comment = await api(`${base}/comments`, { method: 'POST', json: { body: textarea.value } });
      $('#comment-list').append(h('li', { class: 'comment' },
        h('p', { class: 'comment-meta' }, h('strong', { text: comment.author }), ' · ',
          h('time', { datetime: comment.created_at, text: formatDateTime(comment.created_at) })),
        h('p', { class: 'comment-body', text: comment.body })));
      const count = $('#comments-count');
      count.textContent = String(Number(count.textContent) + 1);
      $('#comments-empty').hidden = true;
      textarea.value = '';
      voteStatus.textContent = t('comment.posted');
    } catch (problem) {
      const detail = problem instanceof ApiError
        ? (problem.errors.find((e) => e.field === 'body')?.detail ?? problem.detail ?? t('error.generic'))
        : t('error.network');
      error.textContent = detail;
      textarea.setAttribute('aria-invalid', 'true');
      textarea.focus();
    }
  });
}

// ---- share -----------------------------------------------------------------------------------------

$('#share-copy').addEventListener('click', async () => {
  const input = $('#share-url');
  try {
    await navigator.clipboard.writeText(input.value);
    $('#share-status').textContent = t('share.copied');
  } catch {
    input.select();
    $('#share-status').textContent = t('share.copy_failed');
  }
});

// The Web Share API where the browser has one (phones mostly); the copy button otherwise.
const shareNative = $('#share-native');
if (typeof navigator.share === 'function') {
  shareNative.hidden = false;
  shareNative.addEventListener('click', async () => {
    try {
      await navigator.share({ title: shareNative.dataset.title, url: $('#share-url').value });
    } catch (error) {
      if (error?.name !== 'AbortError') $('#share-copy').click();  // cancelled: nothing to say
    }
  });
}

// ---- follow ---------------------------------------------------------------------------------------

// "Follow" / "Following ✓ (unfollow)": both labels are in the page, one shown (aria-pressed
// says the same); busy rather than disabled while sent, so the focus stays on the button.
const follow = $('#follow-button');
function showFollowing(on) {
  follow.setAttribute('aria-pressed', String(on));
  $('.follow-off', follow).hidden = on;
  $('.follow-on', follow).hidden = !on;
}
follow.addEventListener('click', async () => {
  if (follow.getAttribute('aria-disabled') === 'true') return;
  const following = follow.getAttribute('aria-pressed') === 'true';
  follow.setAttribute('aria-disabled', 'true');
  try {
    const result = await api(`${base}/follow`, { method: following ? 'DELETE' : 'PUT' });
    showFollowing(result.following);
    $('#followers-count').textContent = formatNumber(result.followers_count);
    $('#follow-status').textContent = t(result.following ? 'follow.on' : 'follow.off');
  } catch (error) {
    $('#follow-status').textContent = error instanceof ApiError ? (error.detail ?? t('error.generic')) : t('error.network');
  } finally {
    follow.removeAttribute('aria-disabled');
  }
});
