import { ApiError, api, explain } from './common.js';

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

function safeNext(target) {
  return target && target.startsWith('/') && !target.startsWith('//') && !target.includes('\\') ? target : '/';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.classList.add('hidden');
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    error.textContent = '请输入用户名和密码';
    error.classList.remove('hidden');
    return;
  }
  const button = document.getElementById('login-submit');
  button.disabled = true;
  try {
    await api('POST', '/api/session', { username, password });
    window.location.assign(safeNext(form.dataset.next));
  } catch (e) {
    error.textContent = e instanceof ApiError && e.status === 401 ? '用户名或密码错误' : `登录失败：${explain(e)}`;
    error.classList.remove('hidden');
    button.disabled = false;
  }
});
